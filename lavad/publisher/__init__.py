"""Event outputs that speak LAVA's wire formats: the ZMQ publisher (``EVENT_SOCKET``)."""

from lavad.publisher.zmq_publisher import PublisherError, ZMQPublisher, client_address

__all__ = ["PublisherError", "ZMQPublisher", "client_address"]
