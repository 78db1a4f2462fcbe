"""Files in and out: photos and images, atomic writes, model weights (safetensors)."""
