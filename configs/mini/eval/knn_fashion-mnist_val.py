# Validation variant of knn_fashion-mnist.py, for choosing or investigating settings without
# touching the test split: the queries are 5,000 training images (50000-54999), outside the memory
# bank (the first 10,000) and outside any pretraining subset of the first N <= 50,000 images (the
# mini default is 8,192; with all 60k they were seen in pretraining, without their labels).
_base_ = './knn_fashion-mnist.py'

train_dataloader = dict(dataset=dict(indices=list(range(10000))))
test_dataloader = dict(
    dataset=dict(split='train', test_mode=False, indices=list(range(50000, 55000))))
