import torch

from beamsim.distill.compress import CompressConfig, PatchCompressor


def test_budget_buys_real_samples(small_beams, generator, checkerboard):
    x, y = small_beams
    extra = torch.where(checkerboard, torch.rand(80, 1, 8, 8, generator=generator), torch.ones(()))
    extra_y = torch.arange(8).repeat(10)
    comp = PatchCompressor(CompressConfig(bits=2, refine=False), generator=torch.Generator().manual_seed(0))
    comp.fit(x, y, extra_x=extra, extra_y=extra_y)
    assert comp.budget_bytes_ == 24 * 64 * 4
    assert comp.samples_per_class_ > 3 and comp.extra_rows_ > 0 and comp.distilled_rows_ == 24
    assert comp.sizes_.payload <= comp.budget_bytes_
    out, labels = comp.decode()
    assert out.shape == (len(labels), 1, 8, 8) and labels.tolist() == sorted(labels.tolist())
    assert torch.equal(comp.counts_, torch.bincount(labels, minlength=8))


def test_without_extra_rows_keeps_every_distilled_row(small_beams):
    x, y = small_beams
    comp = PatchCompressor(CompressConfig(bits=2, refine=True, refine_steps=2),
                           generator=torch.Generator().manual_seed(0)).fit(x, y)
    assert comp.samples_per_class_ == 3 and comp.extra_rows_ == 0 and len(comp.refine_history_) == 3
    assert comp.codec_ == "paq"  # the float32 budget holds one parameter pair per patch
    assert comp.sizes_.codes == len(comp.stream_)


def test_same_seed_same_stream(small_beams):
    x, y = small_beams
    cfg = CompressConfig(bits=3, refine=False, budget_bytes=900)
    a = PatchCompressor(cfg, generator=torch.Generator().manual_seed(4)).fit(x, y)
    b = PatchCompressor(cfg, generator=torch.Generator().manual_seed(4)).fit(x, y)
    assert a.stream_ == b.stream_ and a.groups_ == b.groups_ and a.sizes_.payload <= 900


def test_unset_bits_follow_the_map_size_and_the_file_records_them(tmp_path, small_beams, generator):
    from beamsim.distill.container import describe

    x, y = small_beams
    beams = PatchCompressor(CompressConfig(refine=False), generator=torch.Generator().manual_seed(0)).fit(x, y)
    assert beams.config_.bits == 4 and beams.quantized_.bits == 4 and beams.config.bits is None
    beams.save(tmp_path / "b.h5")
    assert describe(tmp_path / "b.h5")["bits"] == 4
    images = PatchCompressor(CompressConfig(refine=False), generator=torch.Generator().manual_seed(0))
    images.fit(torch.rand(4, 3, 32, 32, generator=generator), torch.arange(4) % 2)
    assert images.quantized_.bits == 2  # the paper's, for 32 x 32 images
