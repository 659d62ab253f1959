"""Real anime art with exact part labels: Live2D's sample characters, posed and drawn.

``rig`` poses a Cubism 2 model (live2d-py's pure-Python runtime), ``raster`` draws its textured
meshes and labels, ``characters`` maps each drawable to a class (tables in ``mappings/``) and
installs the npm packages, ``backgrounds`` fetches real photographs, ``scene`` composes whole
pictures, and ``sheet`` draws every drawable of a model for checking its table by eye.
"""
