"""The heavy ranker: numpy serves what torch trained, candidates are isolated from each
other, training on a tiny world's impressions beats a constant predictor, versions
reload, and the scorer ranks a whole batch in one forward pass without PyTorch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from starling.artifacts import Newest
from starling.cli import main
from starling.config import Settings
from starling.engagements import Engagements
from starling.mixer.candidates import Candidates
from starling.mixer.posts import PostRecords
from starling.mixer.query import Query
from starling.ranking.dataset import TRAIN, Impressions, ImpressionsError
from starling.ranking.heavy import scorer as heavy_scorer
from starling.ranking.heavy.fallback import ship
from starling.ranking.heavy.history import Histories, RealGraphHistory, recent
from starling.ranking.heavy.inputs import CandidateInputs, HistoryInputs
from starling.ranking.heavy.model import HeavyConfig, HeavyModel, models_in
from starling.ranking.heavy.network import HeavyNetwork
from starling.ranking.heavy.posts import shown_in
from starling.ranking.heavy.score import ScoreWeights, author_diversity, final_scores
from starling.ranking.heavy.scorer import HeavyRanker, newest_model
from starling.ranking.heavy.tokens import TEXT_LENGTH, VOCAB, TokenRows, post_tokens, token_matrix
from starling.ranking.heavy.train import Trained, TrainParams, feature_scale, tensors, train
from starling.realgraph import RealGraph
from starling.store.sqlite import SqliteStore
from starling.world.engagement import ACTIONS
from tests.counting import Counting
from tests.heavy_world import tiny_world, write_impressions

SMALL = TrainParams(vocab=4096, author_buckets=1024, history=8, dim=16, ffn=32, max_epochs=12)
CONFIG = HeavyConfig(feature_names=("a", "b", "c"), vocab=500, author_buckets=64, history=6)
LIKE = ACTIONS.index("like")


@dataclass
class World:
    store: SqliteStore
    data_dir: Path
    impressions: Impressions
    trained: Trained


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("heavy")
    store = SqliteStore(data_dir / "starling.sqlite3")
    tiny_world(store, data_dir)
    impressions = write_impressions(store, data_dir)
    yield World(store, data_dir, impressions, train(store, data_dir, SMALL, progress=False))
    store.close()


def _random_inputs(
    rng: np.random.Generator, batch: int, candidates: int
) -> tuple[HistoryInputs, CandidateInputs]:
    h, length = CONFIG.history, CONFIG.text_length
    tokens = rng.integers(0, CONFIG.vocab, (batch, h, length)).astype(np.int32)
    tokens[..., length // 2 :] = 0  # padding after the words, as real posts have
    history = HistoryInputs(
        tokens=tokens,
        authors=rng.integers(0, CONFIG.author_buckets, (batch, h)).astype(np.int32),
        actions=rng.integers(0, 3, (batch, h)).astype(np.int8),
        valid=rng.random((batch, h)) < 0.7,
    )
    history.valid[0] = False  # a viewer without history
    history.valid[-1, 0] = True
    return history, CandidateInputs(
        tokens=rng.integers(0, CONFIG.vocab, (batch, candidates, length)).astype(np.int32),
        authors=rng.integers(0, CONFIG.author_buckets, (batch, candidates)).astype(np.int32),
        features=(rng.normal(size=(batch, candidates, 3)) * 20).astype(np.float32),
    )


def _network(seed: int = 0) -> HeavyNetwork:
    torch.manual_seed(seed)
    network = HeavyNetwork(CONFIG, np.array([0.5, 1.0, 0.0]), np.array([1.0, 2.0, 0.5]))
    with torch.no_grad():  # untrained weights of a trained model's spread: outputs vary
        for parameter in network.parameters():
            parameter.mul_(3.0)
    return network


def _torch_probabilities(
    network: HeavyNetwork, history: HistoryInputs, candidates: CandidateInputs
) -> np.ndarray:
    with torch.no_grad():
        logits = network(*tensors(history, candidates))
    return torch.sigmoid(logits).numpy()


def _rows(candidates: CandidateInputs, rows: list[int]) -> CandidateInputs:
    return CandidateInputs(
        candidates.tokens[:, rows], candidates.authors[:, rows], candidates.features[:, rows]
    )


def test_numpy_inference_gives_torchs_probabilities() -> None:
    network = _network()
    history, candidates = _random_inputs(np.random.default_rng(1), batch=4, candidates=7)
    expected = _torch_probabilities(network, history, candidates)
    found = network.export("v1", {}).predict(history, candidates)
    assert found.shape == (4, 7, len(ACTIONS)) and found.dtype == np.float32
    assert expected.std() > 0.05  # outputs that differ between rows, not all one value
    assert np.abs(found - expected).max() < 1e-4


def test_a_candidates_probabilities_do_not_depend_on_the_other_candidates() -> None:
    network = _network()
    model = network.export("v1", {})
    history, candidates = _random_inputs(np.random.default_rng(2), batch=2, candidates=6)
    whole = model.predict(history, candidates)
    alone = model.predict(history, _rows(candidates, [3]))
    shuffled = model.predict(history, _rows(candidates, [5, 3, 0]))
    assert np.allclose(alone[:, 0], whole[:, 3], atol=1e-6)
    assert np.allclose(shuffled, whole[:, [5, 3, 0]], atol=1e-6)
    # The training network's attention mask isolates them the same way.
    changed = replace(candidates, tokens=candidates.tokens.copy())
    changed.tokens[:, 1:] = np.flip(changed.tokens[:, 1:], axis=1)
    before = _torch_probabilities(network, history, candidates)
    after = _torch_probabilities(network, history, changed)
    assert np.allclose(before[:, 0], after[:, 0], atol=1e-6)
    assert not np.allclose(before[:, 1:], after[:, 1:], atol=1e-3)


def test_padded_history_slots_are_masked_and_valid_ones_count() -> None:
    model = _network().export("v1", {})
    history, candidates = _random_inputs(np.random.default_rng(3), batch=3, candidates=4)
    base = model.predict(history, candidates)
    padded = replace(history, tokens=history.tokens.copy(), authors=history.authors.copy())
    padded.tokens[~history.valid] = 7
    padded.authors[~history.valid] = 9
    assert np.allclose(model.predict(padded, candidates), base, atol=1e-6)
    engaged = replace(history, authors=history.authors.copy())
    engaged.authors[history.valid] = (engaged.authors[history.valid] + 1) % CONFIG.author_buckets
    moved = model.predict(engaged, candidates)
    assert np.allclose(moved[0], base[0], atol=1e-6)  # no history: nothing to change
    assert not np.allclose(moved[1:], base[1:], atol=1e-4)


def test_recent_history_is_the_last_engagements_before_the_moment() -> None:
    rows = [(1, 100 + t, 9, 0, t) for t in (50, 10, 30, 20, 40)] + [(2, 500, 9, 1, 15)]
    engagements = Engagements.of_rows(rows)
    found = recent(engagements, np.array([1, 1, 2, 3]), np.array([35, 10, 99, 99]), limit=2)
    posts = np.where(found.valid, engagements.post[found.positions], -1)
    assert posts.tolist() == [[120, 130], [-1, -1], [-1, 500], [-1, -1]]


def test_a_feature_constant_in_training_is_not_blown_up_at_serving() -> None:
    # Every impression of a world is served at one instant: its time of day is constant
    # over 200,000 float32 rows. Its spread must be 1 (not float32 drift), so a served
    # value 1 away stays 1 away after standardising.
    rng = np.random.default_rng(0)
    rows = np.column_stack(
        [np.full(200_000, -0.9723699, np.float32), rng.random(200_000, dtype=np.float32)]
    )
    mean, std = feature_scale(rows)
    assert std[0] == 1.0 and 0.1 < std[1] < 1.0
    served = np.sign(0.0277) * np.log1p(0.0277)  # the same feature an hour later, logged
    assert abs((served - mean[0]) / std[0]) < 2.0


def test_training_beats_a_constant_predictor_on_held_out_impressions(world: World) -> None:
    test = world.trained.model.trained["test"]
    labels = world.impressions.labels
    train_rows = world.impressions.split == TRAIN
    base_rate = labels[train_rows, LIKE].mean()
    held_out = labels[~train_rows, LIKE]
    constant_loss = -np.mean(held_out * np.log(base_rate) + (1 - held_out) * np.log(1 - base_rate))
    assert held_out.sum() > 50  # enough positives that an AUC of 0.65 is no accident
    assert test["like"]["log_loss"] < constant_loss - 0.01
    assert test["like"]["auc"] > 0.65  # a constant predictor's is 0.5
    assert world.trained.model.trained["epochs"] >= 1


def test_the_server_loads_the_newest_version(world: World) -> None:
    models = newest_model(world.data_dir)
    models.check_every_s = 0.0
    loaded = models.current()
    assert loaded is not None and loaded.version == world.trained.model.version
    assert loaded.config == world.trained.model.config
    for name, weights in world.trained.model.weights.items():
        assert np.array_equal(loaded.weights[name], weights)
    newer = replace(loaded, version=str(int(loaded.version) + 1).zfill(len(loaded.version)))
    models_in(world.data_dir).save(newer.version, newer.save)
    reloaded = models.current()
    assert reloaded is not None and reloaded.version == newer.version


def _scored_batch(world: World, viewer: int, size: int) -> Candidates:
    ids = world.impressions.post_id[world.impressions.viewer_id != viewer][:size]
    batch = PostRecords(world.store).hydrate(Query(viewer), Candidates.of(np.unique(ids)))
    features = np.random.default_rng(4).integers(0, 50, batch.features.shape).astype(float)
    return batch.with_columns(features=features, pipeline=(np.arange(len(batch)) % 2))


def _ranker(world: World, store: object, graph: RealGraph) -> HeavyRanker:
    models: Newest[HeavyModel] = newest_model(world.data_dir)
    histories = Histories(RealGraphHistory(graph), store)  # type: ignore[arg-type]
    return HeavyRanker(models, histories, ScoreWeights.of(Settings()))


def test_the_scorer_scores_a_whole_batch_in_one_forward_pass(world: World) -> None:
    engagements = Engagements.concat(world.store.iter_engagements(0, 10_000))
    graph = RealGraph()
    graph.add(engagements.take(np.argsort(engagements.time, kind="stable")))
    viewer = int(np.bincount(np.unique(engagements.account, return_inverse=True)[1]).argmax())
    viewer_id = int(np.unique(engagements.account)[viewer])
    store = Counting(world.store)
    forward = Counting(None)

    def counted(path: Path, version: str) -> HeavyModel:
        forward._target = HeavyModel.load(path, version)
        return forward  # type: ignore[return-value]

    weights = ScoreWeights.of(Settings())
    models = Newest(models_in(world.data_dir), counted)
    ranker = HeavyRanker(models, Histories(RealGraphHistory(graph), store), weights)
    batch = _scored_batch(world, viewer_id, 300)
    prediction = ranker.predict(Query(viewer_id), batch)
    assert prediction is not None and len(batch) > 200
    assert forward.calls["predict"] == 1
    assert store.calls["get_posts"] <= 2  # the history's posts (and reposts' originals)
    assert prediction.probabilities.shape == (len(batch), len(ACTIONS))
    assert np.array_equal(ranker.score(Query(viewer_id), batch), prediction.scores)
    assert set(prediction.heads(0)) == set(ACTIONS)
    # Scores of a sub-batch are the same probabilities: they could be cached per viewer.
    half = ranker.predict(Query(viewer_id), batch.take(np.arange(0, len(batch), 2)))
    assert half is not None
    assert np.allclose(half.probabilities, prediction.probabilities[::2], atol=1e-6)


def test_the_scorer_tokenises_each_candidate_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokeniser = Counting(heavy_scorer)
    monkeypatch.setattr(heavy_scorer, "post_tokens", tokeniser.post_tokens)
    viewer = int(world.impressions.viewer_id[0])
    ranker = _ranker(world, world.store, RealGraph())
    batch = _scored_batch(world, viewer, 100)
    shown = shown_in(batch)

    first = ranker.predict(Query(viewer), batch)
    again = ranker.predict(Query(viewer), batch.take(np.arange(0, len(batch), 2)))

    assert tokeniser.calls["post_tokens"] == len({p.id for p in shown if p is not None})
    assert first is not None and again is not None
    assert np.allclose(again.probabilities, first.probabilities[::2], atol=1e-6)
    rows = TokenRows(lambda p: post_tokens(p.text, p.hashtags, VOCAB, TEXT_LENGTH))
    assert np.array_equal(rows.of([*shown, None]), token_matrix([*shown, None]))


def test_a_viewer_history_is_read_once_while_kept(world: World) -> None:
    engagements = Engagements.concat(world.store.iter_engagements(0, 10_000))
    graph = RealGraph()
    graph.add(engagements.take(np.argsort(engagements.time, kind="stable")))
    viewer_id = int(engagements.account[0])
    source, store = Counting(RealGraphHistory(graph)), Counting(world.store)
    now = [0.0]
    histories = Histories(source, store, keep_s=1.0, clock=lambda: now[0])

    first = histories.of(viewer_id, 32)
    reads = store.calls["get_posts"]
    now[0] = 0.5  # the heavy ranker, later in the same request
    assert histories.of(viewer_id, 32) is first and first.posts
    assert source.calls["engagements_of"] == 1 and store.calls["get_posts"] == reads
    assert histories.of(viewer_id, 8) is not first  # another limit is another read
    now[0] = 1.5
    assert histories.of(viewer_id, 32) is not first
    assert source.calls["engagements_of"] == 3 and store.calls["get_posts"] == 3 * reads


def test_before_the_first_model_the_earlier_score_passes_through(tmp_path: Path) -> None:
    ranker = HeavyRanker(
        newest_model(tmp_path), Histories(RealGraphHistory(RealGraph()), None),  # type: ignore[arg-type]
        ScoreWeights.of(Settings()),
    )  # fmt: skip
    batch = Candidates.of([3, 2, 1]).with_columns(score=np.array([0.3, 0.2, 0.1]))
    assert ranker.score(Query(1), batch).tolist() == [0.3, 0.2, 0.1]


def test_final_score_weights_then_out_of_network_then_author_diversity() -> None:
    weights = ScoreWeights.of(Settings())
    assert weights.per_action().tolist() == [0.5, 13.5, 1.0, 11.0, -74.0]
    p = np.array([[0.2, 0.1, 0.0, 0.5, 0.0], [0.2, 0.1, 0.0, 0.5, 0.0], [0, 0, 0, 0, 1]])
    authors = np.array([1, 2, 3])
    scores = final_scores(p.astype(np.float32), np.array([False, True, False]), authors, weights)
    in_network = 0.1 + 1.35 + 5.5 + 74.0  # shifted by the negative weight
    assert scores == pytest.approx([in_network, 0.75 * in_network, 0.0], rel=1e-5)
    factors = author_diversity(
        np.array([1.0, 5.0, 3.0, 4.0, 2.0]), np.array([7, 7, 7, 8, 7]), 0.5, 0.25
    )
    assert factors.tolist() == [0.25 + 0.75 / 8, 1.0, 0.25 + 0.75 / 2, 1.0, 0.25 + 0.75 / 4]


def test_a_model_reading_unknown_features_is_refused_clearly(world: World, tmp_path: Path) -> None:
    model = replace(
        world.trained.model,
        config=replace(world.trained.model.config, feature_names=("favourites", "unknown", "x")),
    )
    models_in(tmp_path).save("000000000000001", model.save)
    ranker = _ranker(replace(world, data_dir=tmp_path), world.store, RealGraph())
    with pytest.raises(ValueError, match=r"no hydrator fills: \['unknown', 'x'\]"):
        ranker.predict(Query(1), _scored_batch(world, 1, 5))


def test_impressions_not_in_the_format_are_refused(world: World, tmp_path: Path) -> None:
    bad = replace(world.impressions, labels=world.impressions.labels[:, :4])
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(ImpressionsError, match="labels must be rows x 5"):
        Impressions.load(tmp_path / "bad.npz")
    assert main(["train", "heavy", "--data-dir", str(tmp_path)]) == 2


def test_serving_never_imports_torch(world: World) -> None:
    script = f"""
import sys
import numpy as np
from pathlib import Path
from starling.config import Settings
from starling.mixer.candidates import Candidates
from starling.mixer.posts import PostRecords
from starling.mixer.query import Query
from starling.ranking.heavy.history import Histories, RealGraphHistory
from starling.ranking.heavy.score import ScoreWeights
from starling.ranking.heavy.scorer import HeavyRanker, newest_model
from starling.realgraph import RealGraph
from starling.store.sqlite import SqliteStore
store = SqliteStore(Path({str(world.data_dir)!r}) / "starling.sqlite3")
ids = {world.impressions.post_id[:50].tolist()!r}
batch = PostRecords(store).hydrate(Query(1), Candidates.of(sorted(set(ids))))
ranker = HeavyRanker(newest_model(Path({str(world.data_dir)!r})),
                     Histories(RealGraphHistory(RealGraph()), store), ScoreWeights.of(Settings()))
assert ranker.predict(Query(1), batch) is not None
assert "torch" not in sys.modules, "torch was imported"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_shipping_a_model_halves_its_weights_and_keeps_its_predictions(
    world: World, tmp_path: Path
) -> None:
    path = ship(world.data_dir, tmp_path / "shipped.npz")
    with np.load(path) as saved:
        assert {saved[n].dtype for n in saved.files if n[:2] == "w:"} == {np.dtype(np.float16)}
    shipped = HeavyModel.load(path, "shipped")
    history, candidates = _random_inputs(np.random.default_rng(2), batch=2, candidates=9)
    expected = world.trained.model.predict(history, candidates)
    assert np.abs(shipped.predict(history, candidates) - expected).max() < 0.01
    with pytest.raises(ValueError, match="no trained heavy ranker"):
        ship(tmp_path, tmp_path / "none.npz")
