"""Language models in the loop, without Django: the OpenAI-compatible chat client and the seeded choice of pairs."""
