"""InfantinO's machine learning core: faces, embeddings, the online head and the model registry."""
