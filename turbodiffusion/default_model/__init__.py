"""The built-in default model: a small Wan DiT and Wan VAE trained by us on the synthetic world.

``config`` holds the architecture and file layout shared by the training script
(turbodiffusion.default_model.train, run by scripts/train_default_model.sh), which writes the weights, and the loader, which reads them.
"""
