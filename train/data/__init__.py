"""Data preparation: LBI-Synth renders, Human3.6M and 3DHP, MediaPipe on every crop."""
