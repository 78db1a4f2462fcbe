"""2D pose -> the model's inputs: the person crop and the input codec."""
