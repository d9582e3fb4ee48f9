"""Alembic migrations; `mediaq migrate` (producer.migrate) runs them."""
