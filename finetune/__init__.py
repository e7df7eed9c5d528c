"""Fine-tuning pipeline: a user's corpus in, a self-describing checkpoint out."""
