"""Tables and measurements: real photos, several people, the study, the synthetic tables."""
