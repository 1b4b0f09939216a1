"""MRopeCollator in a real torch DataLoader: fix mode writes the right ids, check mode catches bad ones;
position_ids and check_positions on torch tensors (torch is imported here only)."""
import numpy as np
import pytest

from mrope import MRopeCollator, MRopePositionError, check_positions, position_ids, reference as ref
from test_positions import batch_inputs, packed_batch, per_segment_arange, random_sample

torch = pytest.importorskip("torch")


def make_dataset(arch, n, seed):
    rng = np.random.default_rng(seed)
    return [random_sample(rng, arch, max_items=2) for _ in range(n)]


def packing_collate(arch, bad=None):
    """A padding-free collator: all samples of a batch packed into one row, segment ids 1..k.
    ``bad``: also write wrong position_ids ("1d" over the row, or "3d" [3, B, L] computed per sample)."""
    def collate(samples):
        toks = [t for s in samples for t in s.tokens]
        seg = [k + 1 for k, s in enumerate(samples) for _ in s.tokens]
        batch = {"input_ids": torch.tensor([toks]), "segment_ids": torch.tensor([seg])}
        for key, value in batch_inputs(arch, samples, False).items():
            if value is not None and key != "use_audio_in_video":
                batch[key] = torch.from_numpy(np.asarray(value))
        if bad == "1d":
            batch["position_ids"] = torch.arange(len(toks))[None]
        elif bad == "3d":
            pos, _ = position_ids(np.array([toks]), arch=arch, segment_ids=np.array([seg]),
                                  **{k: v.numpy() for k, v in batch.items() if k.endswith(("thw", "ts", "seqlens"))})
            batch["position_ids"] = torch.from_numpy(pos)
        return batch
    return collate


@pytest.mark.parametrize("arch", ["qwen2-vl", "qwen3-vl", "qwen2.5-omni", "glm4v"])
def test_fix_mode_in_a_dataloader(arch):
    data = make_dataset(arch, 12, seed=1)
    guard = MRopeCollator(packing_collate(arch), arch=arch, mode="fix", rope_deltas=True)
    loader = torch.utils.data.DataLoader(data, batch_size=3, collate_fn=guard)
    checker = MRopeCollator(lambda b: b, arch=arch, mode="check")
    for i, batch in enumerate(loader):
        pos = batch["position_ids"]
        assert isinstance(pos, torch.Tensor) and pos.shape[0] == 4  # packed: the [4, B, L] form
        # Each sample's positions equal the sample alone.
        off = 0
        for s in data[3 * i:3 * i + 3]:
            alone, _ = position_ids(np.array([s.tokens]), arch=arch, **batch_inputs(arch, [s], False))
            np.testing.assert_array_equal(pos[1:, 0, off:off + len(s.tokens)].numpy(), alone[:, 0])
            np.testing.assert_array_equal(pos[0, 0, off:off + len(s.tokens)].numpy(), np.arange(len(s.tokens)))
            off += len(s.tokens)
        assert batch["rope_deltas"].shape == (1, 3)
        checker(batch)  # the fixed batch passes the check
    assert guard.batches == 4 and checker.failures == 0


def test_check_mode_raises_names_the_shape():
    arch = "qwen2-vl"
    data = [s for s in make_dataset(arch, 40, seed=2) if len(s.images) + len(s.videos)][:6]
    loader = torch.utils.data.DataLoader(data, batch_size=3, collate_fn=MRopeCollator(
        packing_collate(arch, bad="1d"), arch=arch, mode="check"))
    with pytest.raises(MRopePositionError, match="no-restart") as err:
        next(iter(loader))
    assert err.value.check.verdict == "no-restart" and err.value.check.also_1d
    # A correct [3, B, L] tensor on a packed batch: the model would read row t as the text row.
    guard = MRopeCollator(packing_collate(arch, bad="3d"), arch=arch, mode="check")
    with pytest.raises(MRopePositionError, match="3d-read-as-packing"):
        guard(data[:3])
    # ... fine where the model takes [3, B, L] as is (text_row=False).
    MRopeCollator(packing_collate(arch, bad="3d"), arch=arch, mode="check", text_row=False)(data[:3])


def test_warn_mode_counts_and_unpacked_batches():
    arch = "qwen2.5-vl"
    data = [s for s in make_dataset(arch, 40, seed=3) if len(s.images) + len(s.videos)][:2]

    def padded(samples):
        L = max(len(s.tokens) for s in samples)
        ids = np.zeros((len(samples), L), np.int64)
        mask = np.zeros_like(ids)
        for b, s in enumerate(samples):
            ids[b, L - len(s.tokens):], mask[b, L - len(s.tokens):] = s.tokens, 1
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        for key, value in batch_inputs(arch, samples, False).items():
            if value is not None:
                batch[key] = torch.from_numpy(np.asarray(value))
        return batch

    guard = MRopeCollator(padded, arch=arch, mode="check")
    guard(data)                       # no position_ids on an unpadded batch: the model computes them
    assert guard.skipped == 1

    def with_1d(samples):
        batch = padded(samples)
        batch["position_ids"] = torch.from_numpy(ref.text_positions(batch["attention_mask"].numpy())[0])
        return batch

    guard = MRopeCollator(with_1d, arch=arch, mode="check", on_error="warn")
    with pytest.warns(RuntimeWarning, match="1d-degenerate"):
        guard(data)
    assert guard.failures == 1 and guard.last.verdict == "1d-degenerate"

    fixer = MRopeCollator(padded, arch=arch, mode="fix")
    batch = fixer(data)
    assert batch["position_ids"].shape[0] == 3   # unpacked: the [3, B, L] form
    assert check_positions(batch["position_ids"], batch["input_ids"], batch["attention_mask"],
                           batch.get("image_grid_thw"), batch.get("video_grid_thw"), arch=arch,
                           second_per_grid_ts=batch.get("second_per_grid_ts")).verdict == "ok"


def test_packed_batch_without_positions_and_renamed_keys():
    arch = "qwen2-vl"
    data = make_dataset(arch, 4, seed=4)
    with pytest.raises(MRopePositionError, match="missing"):
        MRopeCollator(packing_collate(arch), arch=arch, mode="check")(data[:3])

    def renamed(samples):
        batch = packing_collate(arch)(samples)
        batch["seq_idx"] = batch.pop("segment_ids")
        return batch

    out = MRopeCollator(renamed, arch=arch, mode="fix", keys={"segment_ids": "seq_idx"})(data[:3])
    assert out["position_ids"].shape[0] == 4 and "seq_idx" in out
    out = MRopeCollator(renamed, arch=arch, mode="fix", keys={"segment_ids": "seq_idx"},
                        drop_keys=["seq_idx"])(data[:3])
    assert out["position_ids"].shape[0] == 4 and "seq_idx" not in out
    with pytest.raises(ValueError, match="mode"):
        MRopeCollator(renamed, arch=arch, mode="repair")
    with pytest.raises(ValueError, match="unknown arch"):
        MRopeCollator(renamed, arch="llava")


def test_four_row_form_and_torch():
    rng = np.random.default_rng(7)
    ids, segs, samples, inputs = packed_batch(rng, "qwen2-vl", B=2)
    t = lambda x: torch.from_numpy(x) if isinstance(x, np.ndarray) else x
    pos4, _ = position_ids(t(ids), arch="qwen2-vl", segment_ids=t(segs), with_text_row=True,
                           **{k: t(v) for k, v in inputs.items()})
    assert pos4.shape == (4,) + ids.shape
    np.testing.assert_array_equal(pos4[0][segs > 0], per_segment_arange(segs)[segs > 0])
    assert check_positions(t(pos4), t(ids), arch="qwen2-vl", segment_ids=t(segs),
                           **{k: t(v) for k, v in inputs.items()}).verdict == "ok"
