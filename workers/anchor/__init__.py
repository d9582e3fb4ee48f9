"""2D virtual news anchor: visemes from phoneme timings, presenter sprites, studio, frame loop."""
