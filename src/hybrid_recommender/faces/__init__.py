"""Face detection and alignment (MTCNN), shared by ingestion, training and the real-time path."""
