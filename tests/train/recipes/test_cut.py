"""CUT / FastCUT (issue #23): what train_step computes, pinned to PatchNCE and LSGAN written out
independently in float64; real training steps, exact resume, export parity and the NCE health check."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.train.recipes import _formulas as ref
from translate.cli import main
from translate.train.recipes import get_recipe

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
HORSES = DATA / "unpaired" / "horse2zebra_mini"
needs_data = pytest.mark.skipif(not HORSES.is_dir(), reason="real images in ../shared/data are not available")
one_thread_only = pytest.mark.usefixtures("one_thread")

LAYERS = (0, 4, 8, 12, 16)
TINY = ["--netG", "resnet_2blocks", "--ngf", "4", "--ndf", "4", "--netF-nc", "16", "--num-patches", "32",
        "--load-size", "36", "--crop-size", "32", "--workers", "0", "--print-every", "1", "--seed", "3",
        "--device", "cpu"]


# --- the formulas, written from the paper / the reference's options, not from the recipe -------

def encoder_outputs(G, x):
    """The outputs of G.model[i] for the NCE layers, by running the layers one by one."""
    out, h = [], x
    for i, layer in enumerate(G.model):
        h = layer(h)
        if i in LAYERS:
            out.append(h)
        if i == LAYERS[-1]:
            return out


def project(F_net, layer, feat, ids):
    """Layer ``layer``'s MLP on the features at flat positions ``ids``, L2-normalised: (B, P, C)."""
    mlp = getattr(F_net, f"mlp_{layer}")
    rows = feat.flatten(2)[:, :, ids].transpose(1, 2)  # (B, P, C)
    z = mlp[2](torch.relu(mlp[0](rows)))
    return z / (z.norm(dim=2, keepdim=True) + 1e-7)


def patch_nce_formula(q, k, temperature):
    """Mean over images and positions i of -log softmax_i: each query's logits are q_i.k_i (the
    positive) and q_i.k_j for every j, where j = i is replaced by -10 (the reference's mask)."""
    k = k.detach()
    total, count = 0.0, 0
    for b in range(q.shape[0]):
        sims = q[b] @ k[b].T  # (P, P)
        pos = sims.diagonal()
        neg = sims - torch.diag(sims.diagonal()) + torch.diag(torch.full_like(pos, -10.0))
        logits = torch.cat([pos[:, None], neg], 1) / temperature
        total = total + (torch.logsumexp(logits, 1) - logits[:, 0]).sum()
        count += q.shape[1]
    return total / count


def nce_formula(G, F_net, source, output, ids, lam, temperature, flipped=False):
    feats_q = encoder_outputs(G, output)
    if flipped:
        feats_q = [torch.flip(f, [3]) for f in feats_q]
    feats_k = encoder_outputs(G, source)
    per_layer = [patch_nce_formula(project(F_net, i, fq, ids[i]), project(F_net, i, fk, ids[i]), temperature) * lam
                 for i, (fq, fk) in enumerate(zip(feats_q, feats_k))]
    return sum(per_layer) / len(per_layer)


def drawn_ids(seed, G, x, num_patches, flip):
    """The random draws of one step in order: the flip (fastcut), then one randperm per NCE layer
    for NCE(x) (and again for NCE(y)): the recipe draws them from torch's global RNG."""
    torch.manual_seed(seed)
    flipped = bool(torch.rand(()).item() < 0.5) if flip else False
    sizes = [f.shape[2] * f.shape[3] for f in encoder_outputs(G, x)]
    first = [torch.randperm(n)[: min(num_patches, n)] for n in sizes]
    second = [torch.randperm(n)[: min(num_patches, n)] for n in sizes]
    return flipped, first, second


def stepped_recipe(mode, seed):
    torch.manual_seed(0)
    Recipe = get_recipe("cut")
    config = Recipe.Config(data="unused", out="unused", netG="resnet_2blocks", ngf=4, ndf=4, netF_nc=16,
                           num_patches=32, load_size=32, crop_size=32, workers=0, mode=mode)
    recipe = Recipe(config, torch.device("cpu"), "x")
    ref.in_float64(recipe)
    g = torch.Generator().manual_seed(1)
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1,
             "B": torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1}
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    torch.manual_seed(seed)
    with ref.single_thread():
        losses = recipe.train_step(batch)
    flipped, ids_x, ids_y = drawn_ids(seed, before["G"], batch["A"], 32, config.flip_equivariance)
    return SimpleNamespace(recipe=recipe, config=config, A=batch["A"], B=batch["B"], before=before,
                           after=ref.snapshot(recipe.nets), losses=losses, grads={k: v[0] for k, v in recorded.items()},
                           steps={k: len(v) for k, v in recorded.items()}, flipped=flipped, ids_x=ids_x, ids_y=ids_y)


def flip_seed(wanted: bool) -> int:
    return next(s for s in range(100) if (torch.manual_seed(s), torch.rand(()).item() < 0.5)[1] == wanted)


@pytest.fixture(scope="module")
def cut_step():
    return stepped_recipe("cut", seed=5)


@pytest.fixture(scope="module")
def fastcut_step():
    return stepped_recipe("fastcut", seed=flip_seed(True))  # the flipped case, the one with more to get wrong


def test_presets_are_the_reference_cut_and_fastcut_settings():
    Config = get_recipe("cut").Config
    cut, fast = Config(data="x", out="y"), Config(data="x", out="y", mode="fastcut")
    assert (cut.lambda_NCE, cut.nce_idt, cut.flip_equivariance, cut.epochs, cut.epochs_decay) == (1.0, True, False,
                                                                                                  200, 200)
    assert (fast.lambda_NCE, fast.nce_idt, fast.flip_equivariance, fast.epochs, fast.epochs_decay) == (10.0, False,
                                                                                                      True, 150, 50)
    assert (cut.lambda_GAN, cut.nce_layers, cut.num_patches, cut.nce_T, cut.netF_nc, cut.gan_mode, cut.pool_size,
            cut.norm, cut.init_type, cut.lr, cut.beta1, cut.antialias, cut.antialias_up) == (
        1.0, "0,4,8,12,16", 256, 0.07, 256, "lsgan", 0, "instance", "xavier", 2e-4, 0.5, True, True)
    # an option given explicitly wins over the preset
    assert Config(data="x", out="y", mode="fastcut", lambda_NCE=2.0, epochs=3).lambda_NCE == 2.0


@one_thread_only
@pytest.mark.parametrize("name", ["cut_step", "fastcut_step"])
def test_losses_are_lsgan_and_patchnce_of_the_paper(name, request):
    s = request.getfixturevalue(name)
    n, cfg = s.before, s.config
    real = torch.cat([s.A, s.B]) if cfg.nce_idt else s.A
    fake = n["G"](torch.flip(real, [3]) if s.flipped else real)
    fake_B = fake[:2]
    # D is judged with the weights before its step; G's GAN term with D after it (D steps first)
    d_real, d_fake = ref.ls_real(n["D"](s.B)), ref.ls_fake(n["D"](fake_B.detach()))
    assert s.losses["D_real"] == pytest.approx(d_real.item(), rel=1e-9)
    assert s.losses["D_fake"] == pytest.approx(d_fake.item(), rel=1e-9)
    assert s.losses["G_GAN"] == pytest.approx(ref.ls_real(s.after["D"](fake_B)).item(), rel=1e-9)
    nce = nce_formula(n["G"], n["F"], s.A, fake_B, s.ids_x, cfg.lambda_NCE, 0.07, s.flipped)
    assert s.losses["NCE"] == pytest.approx(nce.item(), rel=1e-9)
    total = s.losses["G_GAN"] + nce.item()
    if cfg.nce_idt:
        nce_y = nce_formula(n["G"], n["F"], s.B, fake[2:], s.ids_y, cfg.lambda_NCE, 0.07, s.flipped)
        assert s.losses["NCE_Y"] == pytest.approx(nce_y.item(), rel=1e-9)
        total = s.losses["G_GAN"] + 0.5 * (nce.item() + nce_y.item())
    else:
        assert "NCE_Y" not in s.losses and s.flipped
    assert s.losses["G"] == pytest.approx(total, rel=1e-9)


@one_thread_only
@pytest.mark.parametrize("name", ["cut_step", "fastcut_step"])
def test_gradients_and_adam_steps_are_those_of_the_formulas(name, request):
    s = request.getfixturevalue(name)
    n, cfg = s.before, s.config
    real = torch.cat([s.A, s.B]) if cfg.nce_idt else s.A
    fake = n["G"](torch.flip(real, [3]) if s.flipped else real)
    fake_B = fake[:2]
    d_parts = {"real": ref.ls_real(n["D"](s.B)), "fake": ref.ls_fake(n["D"](fake_B.detach()))}
    ref.assert_gradients_match(s.grads["D"], ref.grads(0.5 * sum(d_parts.values()), ref.params(n["D"])),
                               {k: ref.grads(v, ref.params(n["D"])) for k, v in d_parts.items()}, "D")
    terms = {"GAN": ref.ls_real(s.after["D"](fake_B)),
             "NCE": nce_formula(n["G"], n["F"], s.A, fake_B, s.ids_x, cfg.lambda_NCE, 0.07, s.flipped)}
    if cfg.nce_idt:
        terms["NCE_Y"] = nce_formula(n["G"], n["F"], s.B, fake[2:], s.ids_y, cfg.lambda_NCE, 0.07, s.flipped)
        total = terms["GAN"] + 0.5 * (terms["NCE"] + terms["NCE_Y"])
    else:
        total = terms["GAN"] + terms["NCE"]
    for net in ("G", "F"):
        p = ref.params(n[net])
        ref.assert_gradients_match(s.grads[net], ref.grads(total, p),
                                   {k: ref.grads(v, p) for k, v in terms.items() if k != "GAN" or net == "G"}, net)
    ref.assert_each_net_took_one_adam_step(s, {"G": 2e-4, "D": 2e-4, "F": 2e-4})


def test_patch_ids_are_shared_by_query_and_key_and_keys_are_detached():
    from translate.nets.projection import PatchSampleMLP
    from translate.train.recipes.cut import patch_nce

    F_net = PatchSampleMLP([3], nc=8)
    feat = torch.rand(2, 3, 5, 5, requires_grad=True)
    keys, ids = F_net([feat], 7)
    again, same = F_net([feat], 7, ids)
    assert torch.equal(ids[0], same[0]) and torch.equal(keys[0], again[0]) and len(set(ids[0].tolist())) == 7
    # distinct unit features matched to themselves: each patch picks itself, the loss is ~0; the same
    # keys against queries that ignore them (all alike) score log P: 6 negatives and the positive
    distinct = torch.eye(7, dtype=torch.float64).repeat(2, 1)
    assert patch_nce(distinct, distinct, 2, 0.07).max() < 1e-5
    alike = torch.full((14, 7), 7 ** -0.5, dtype=torch.float64)
    assert torch.allclose(patch_nce(alike, distinct, 2, 0.07), torch.full((14,), math.log(7), dtype=torch.float64))
    keys_in = keys[0].detach().requires_grad_(True)
    patch_nce(again[0], keys_in, 2, 0.07).sum().backward()
    assert feat.grad is not None and keys_in.grad is None  # through the queries only: keys are detached


# --- real images through `translate train cut` -------------------------------------------------

@needs_data
@pytest.mark.parametrize("mode", ["cut", "fastcut"])
def test_training_steps_on_real_images_change_the_output(tmp_path, mode, capsys):
    from translate.models.loading import load_model

    run = tmp_path / mode
    assert main(["train", "cut", "--mode", mode, "--data", str(HORSES), "--out", str(run), "--max-iters", "3",
                 "--save-every", "1", *TINY]) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    names = ("D", "G_GAN", "NCE", "G") + (("NCE_Y",) if mode == "cut" else ())
    assert all(math.isfinite(r[k]) for r in records for k in names)
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert set(ckpt["nets"]) == {"G", "D", "F"} and set(ckpt["optimizers"]) == {"G", "D", "F"}
    card = ckpt["cards"]["G"]
    assert card["task"] == "cut" and card["direction"] == "AtoB" and card["generator"]["antialias"]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    G, _ = load_model(str(run))
    seeded = get_recipe("cut")(get_recipe("cut").Config(data=str(HORSES), out="x", netG="resnet_2blocks", ngf=4,
                                                        ndf=4, netF_nc=16, num_patches=32, mode=mode, seed=3),
                               torch.device("cpu"), "x")
    with torch.no_grad():
        assert (G(x) - seeded.nets["G"].eval()(x)).abs().max() > 1e-4  # 3 steps moved it


@needs_data
def test_a_narrow_encoder_with_all_zero_feature_vectors_keeps_training(tmp_path, capsys):
    # ngf 4: 8 channels after the first ReLU, so some positions are all zero; the reference's
    # normalisation gives those rows a NaN gradient and this run diverged at its second iteration
    args = ["train", "cut", "--data", str(HORSES), "--out", str(tmp_path / "run"), "--ngf", "4", "--ndf", "4",
            "--load-size", "36", "--crop-size", "32", "--max-iters", "4", "--workers", "0", "--seed", "0",
            "--device", "cpu", "--print-every", "1"]
    assert main(args) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(math.isfinite(r["NCE"]) and math.isfinite(r["G"]) for r in records)


@needs_data
def test_resume_continues_exactly(tmp_path):
    from tests.train.test_trainer import assert_same_state

    common = ["--data", str(HORSES), "--mode", "fastcut", *TINY]
    assert main(["train", "cut", "--out", str(tmp_path / "whole"), "--max-iters", "4", *common]) == 0
    assert main(["train", "cut", "--out", str(tmp_path / "part"), "--max-iters", "3", *common]) == 0
    assert main(["train", "--resume", str(tmp_path / "part"), "--max-iters", "4"]) == 0

    def load(run):
        return torch.load(tmp_path / run / "checkpoints" / "latest.pt", weights_only=True)

    assert_same_state(load("whole"), load("part"))


@needs_data
def test_export_runs_torch_free_like_the_torch_path(tmp_path):
    import translate
    from translate.run.runtime import Session

    run = tmp_path / "run"
    assert main(["train", "cut", "--data", str(HORSES), "--out", str(run), "--max-iters", "2", *TINY]) == 0
    onnx_path = tmp_path / "cut.onnx"
    assert main(["export", str(run), "-o", str(onnx_path)]) == 0
    image = np.random.default_rng(0).integers(0, 256, (36, 52, 3), dtype=np.uint8)
    ours, reference = Session(onnx_path, device="cpu")(image), translate.load(str(run), device="cpu")(image)
    assert ours.shape == reference.shape == (36, 52, 3)
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1


# --- health: NCE stuck at chance ---------------------------------------------------------------

def test_nce_at_chance_is_reported_and_a_learning_nce_is_not():
    from translate.train import health
    from translate.train.recipes import HealthSignals

    chance = math.log(256)
    signals = HealthSignals(chance_losses=(("NCE", chance, "raise --lambda-NCE"),))

    def run(values):
        monitor = health.HealthMonitor(signals, every=10)
        recipe = SimpleNamespace(nets={}, sheet_columns=(), sample=lambda b: [])
        found = []
        for i, v in enumerate(values, start=1):
            found += monitor.step(i, {"NCE": v}, recipe, None)
        return found

    rng = np.random.default_rng(0)
    stuck = run(chance * (1.0 + 0.02 * rng.standard_normal(200)))
    assert [f.kind for f in stuck] == ["output_ignores_input"] and "--lambda-NCE" in stuck[0].message
    learning = run(chance * np.linspace(1.0, 0.4, 200))
    assert learning == []
    early = run(chance * np.ones(100))  # only 10 checks: an untrained generator starts there
    assert early == []


@one_thread_only
def test_the_recipe_chance_value_is_what_an_input_blind_output_scores():
    """An output that ignores its input (the same image for every input) scores at least the
    recipe's chance value: log P per layer (fewer positions on small maps), times lambda_NCE."""
    torch.manual_seed(0)
    Recipe = get_recipe("cut")
    recipe = Recipe(Recipe.Config(data="x", out="y", netG="resnet_2blocks", ngf=4, ndf=4, netF_nc=16,
                                  crop_size=32, lambda_NCE=2.0), torch.device("cpu"), "x")
    chance = recipe.health_signals().chance_losses[0][1]
    assert chance == pytest.approx(2.0 * (4 * math.log(256) + math.log(64)) / 5)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    blind = torch.zeros(1, 3, 32, 32)
    with torch.no_grad():
        assert recipe.nce_loss(x, blind, flipped=False).item() >= 0.95 * chance
        assert recipe.nce_loss(x, x, flipped=False).item() < 0.5 * chance  # the output is the input
