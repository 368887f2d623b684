"""The heavy ranker as a PyTorch module, for training only (the server runs
`model.HeavyModel`, the same network in numpy, over the weights this one exports).

The history and the candidates form one sequence with an attention mask: every item
sees the valid history and itself, so candidates never see each other (candidate
isolation). Parameter names are the numpy model's weight names.
See docs/subsystems/heavy_ranker.md#architecture.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from starling.engagements import EngagementKind
from starling.ranking.heavy.model import EPS, HeavyConfig, HeavyModel
from starling.world.engagement import ACTIONS


class Layer(nn.Module):
    def __init__(self, config: HeavyConfig) -> None:
        super().__init__()
        d = config.dim
        self.heads = config.heads
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=EPS), nn.LayerNorm(d, eps=EPS)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ffn1, self.ffn2 = nn.Linear(d, config.ffn), nn.Linear(config.ffn, d)

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """x: B x N x D; visible: B x N x N, which keys each query sees."""
        b, n, d = x.shape
        normed = self.norm1(x)
        q, k, v = (
            m(normed).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
            for m in (self.q, self.k, self.v)
        )
        scores = q @ k.transpose(-1, -2) / float(np.sqrt(d // self.heads))
        scores = scores.masked_fill(~visible[:, None], float("-inf"))
        attended = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.o(attended)
        out: torch.Tensor = x + self.ffn2(torch.relu(self.ffn1(self.norm2(x))))
        return out


class HeavyNetwork(nn.Module):
    def __init__(self, config: HeavyConfig, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.config = config
        d, features = config.dim, len(config.feature_names)
        self.tokens = nn.Embedding(config.vocab, d)
        self.authors = nn.Embedding(config.author_buckets, d)
        self.actions = nn.Embedding(len(EngagementKind), d)
        for table in (self.tokens, self.authors, self.actions):
            nn.init.normal_(table.weight, std=0.1)
        self.features = nn.Module()
        self.features.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.features.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.dense = nn.Linear(features, d)
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(d, eps=EPS)
        self.heads = nn.Linear(d, len(ACTIONS))

    def forward(
        self,
        history_tokens: torch.Tensor,  # B x H x L
        history_authors: torch.Tensor,  # B x H
        history_actions: torch.Tensor,  # B x H
        history_valid: torch.Tensor,  # B x H
        tokens: torch.Tensor,  # B x C x L
        authors: torch.Tensor,  # B x C
        features: torch.Tensor,  # B x C x F, raw
    ) -> torch.Tensor:
        """Logits, B x C x 5."""
        h = self._items(history_tokens, history_authors) + self.actions(history_actions)
        logged = torch.sign(features) * torch.log1p(features.abs())
        dense = (logged - self.features.mean) / self.features.std  # type: ignore[operator]
        c = self._items(tokens, authors) + self.dense(dense)
        x = torch.cat([h, c], dim=1)
        visible = isolation_mask(history_valid, c.shape[1])
        for layer in self.layers:
            x = layer(x, visible)
        logits: torch.Tensor = self.heads(self.norm(x[:, h.shape[1] :]))
        return logits

    def _items(self, tokens: torch.Tensor, authors: torch.Tensor) -> torch.Tensor:
        present = (tokens != 0).unsqueeze(-1).float()
        pooled = (self.tokens(tokens) * present).sum(-2) / present.sum(-2).clamp(min=1.0)
        embedded: torch.Tensor = pooled + self.authors(authors)
        return embedded

    def export(self, version: str, trained: dict[str, object]) -> HeavyModel:
        weights = {
            k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.state_dict().items()
        }
        return HeavyModel(self.config, weights, version, dict(trained))


def isolation_mask(history_valid: torch.Tensor, candidates: int) -> torch.Tensor:
    """B x N x N over the sequence [history; candidates]: each item sees the valid
    history and itself, nothing else."""
    b, h = history_valid.shape
    n = h + candidates
    keys = torch.cat([history_valid, history_valid.new_zeros(b, candidates)], dim=1)
    own = torch.eye(n, dtype=torch.bool, device=history_valid.device)
    return keys[:, None, :] | own[None]
