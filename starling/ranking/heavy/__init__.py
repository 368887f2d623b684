"""The heavy ranker: a multi-task transformer over the viewer's engagement history that
predicts P(like, reply, repost, click, negative feedback) for each candidate, trained
with PyTorch, served with numpy. See docs/subsystems/heavy_ranker.md.
"""
