"""coursekit: the numpy package behind the course "How neural networks are trained".

Modules are named for the ideas of the course: ``layers`` and ``losses`` (backprop),
``gradcheck``, ``data``, ``training``, ``plotting`` and, as the course grows,
optimisers, quadratics, initialisation and grading.
"""

__version__ = "0.1.0"
