"""Product showcase video: pan-and-zoom shots over product stills with timed caption cards."""
