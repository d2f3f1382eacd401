"""abstract_cls: classify abstract images (sketches, illustrations, pictograms) into 20 classes."""
