"""Photo -> 2D pose: MediaPipe's BlazePose graphs, one person or everyone in the frame."""
