"""Running the services: the embedded Redis, the process group and the command lines of a deployment."""
