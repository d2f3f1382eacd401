"""Browser demo: draw or upload an image, see the top-5 classes, Grad-CAM and the model input.

python -m abstract_cls.demo --workdir=W (or ./launch.sh demo); see __main__.py.
"""
