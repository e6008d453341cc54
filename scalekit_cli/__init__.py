"""sk — connect users' third-party accounts through Scalekit AgentKit and hand out fresh tokens."""

__version__ = "0.1.0"
