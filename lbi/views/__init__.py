"""What the app shows, without Gradio: pictures, 3D figures, result files, live frames."""
