"""Media mechanics shared by stages: ffmpeg invocation, frame streaming, probing, fonts."""
