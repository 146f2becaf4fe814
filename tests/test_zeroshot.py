"""Zero-shot classification with template ensembles and retrieval metrics, against hand counts."""

import torch
import torch.nn.functional as F

from selfsup.eval.zeroshot import caption_groups, class_embeddings, retrieval_metrics, retrieval_ranks, zero_shot_accuracy


def test_class_embedding_is_the_normalised_mean_of_normalised_templates():
    t = torch.tensor([[[3.0, 0.0], [0.0, 1.0]], [[0.0, -2.0], [0.0, -5.0]]])  # 2 classes x 2 templates
    c = class_embeddings(t)
    assert torch.allclose(c[0], torch.tensor([1.0, 1.0]) / 2**0.5) and torch.allclose(c[1], torch.tensor([0.0, -1.0]))


def test_zero_shot_top_k():
    classes = F.normalize(torch.eye(6, 8), dim=-1)
    labels = torch.arange(6).repeat(5)
    wrong = (labels + 1) % 6
    images = classes[labels] + 0.5 * classes[wrong] + 0.01 * torch.randn(30, 8)  # `wrong` is every image's second-best class
    assert zero_shot_accuracy(images, classes, labels) == {"top1": 100.0, "top5": 100.0}
    assert zero_shot_accuracy(images, classes, wrong) == {"top1": 0.0, "top5": 100.0}
    last = (labels + 3) % 6  # a class with similarity ~0: behind the true and the second-best class
    assert zero_shot_accuracy(images, classes, last, ks=(1, 2)) == {"top1": 0.0, "top2": 0.0}


def test_retrieval_metrics_match_a_sorted_rank_reference():
    img, txt = torch.randn(20, 6), torch.randn(20, 6)
    m = retrieval_metrics(img, txt)
    sims = F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T
    ranks = torch.tensor([int((sims[i].argsort(descending=True) == i).nonzero()) + 1 for i in range(20)])
    assert m["image_to_text_R@1"] == 100.0 * (ranks == 1).float().mean().item()
    assert m["image_to_text_R@5"] == 100.0 * (ranks <= 5).float().mean().item()
    assert m["image_to_text_mean_rank"] == ranks.float().mean().item()
    perfect = retrieval_metrics(img, img)
    assert perfect["text_to_image_R@1"] == 100.0 and perfect["text_to_image_median_rank"] == 1.0


def test_retrieval_counts_any_image_with_the_same_caption_as_a_match():
    img = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 0.05], [1.0, 0.05], [0.0, 1.0]])  # images 0 and 1 share one caption
    plain = retrieval_metrics(img, txt)
    grouped = retrieval_metrics(img, txt, caption_groups(["a", "a", "b"]))
    assert plain["text_to_image_R@1"] < 100.0  # caption 1 ranks image 0 first: a miss without groups
    assert grouped["text_to_image_R@1"] == grouped["image_to_text_R@1"] == 100.0
    assert torch.equal(retrieval_ranks(img, txt, caption_groups(["a", "b", "c"])), retrieval_ranks(img, txt))
