"""Scale-out on existing engines: Ray for the data jobs (prepare, features, predict) and Keras'
multi-process data parallelism (JAX backend) for training. Imports run/, models/ and data/;
nothing there imports this package. Ray and JAX are imported inside functions only."""
