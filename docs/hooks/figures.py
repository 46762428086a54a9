"""MkDocs hook: figures drawn from the code at build time (added to the site, never stored).

``figures/beam_order.png``: the UE array's element order and the beam grid of the default
scenario (``umi``: 8 x 8 elements, 8 x 8 beams), from
:func:`beamsim.simulation.codebook.beam_directions` and
:func:`beamsim.simulation.measure.checkerboard_mask` with that scenario's ``[ue_array]`` and
``[codebook]``, so the data-set page shows the order the code uses.
"""

from __future__ import annotations

import io

from mkdocs.structure.files import File



def beam_order_png() -> bytes:
    """The two panels as PNG bytes: element index per array position, beam index per direction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from beamsim.scenarios import load_scenario
    from beamsim.simulation.codebook import beam_directions
    from beamsim.simulation.measure import checkerboard_mask

    scenario = load_scenario("umi")
    array, codebook = scenario.ue_array, scenario.codebook
    rows, cols, num_el, num_az = array.num_rows, array.num_cols, codebook.num_el, codebook.num_az
    directions = beam_directions(rows, cols, codebook.oversampling, num_el, num_az,
                                 array.spacing).numpy()  # [beams, 2] (azimuth, elevation) [deg]
    measured = checkerboard_mask(num_el, num_az).numpy()  # [8, 8] bool
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6.2), gridspec_kw={"width_ratios": [1, 1.35]})

    left.imshow([[0.0] * cols] * rows, cmap="Greys", vmin=0, vmax=1)
    for row in range(rows):
        for col in range(cols):
            left.text(col, row, str(row + col * rows), ha="center", va="center", fontsize=10)
    left.set_title(f"UE array elements, seen from boresight\nindex = row + col x {rows} (Sionna PanelArray order)")
    left.set_xlabel("column (toward +y of the array frame)")
    left.set_ylabel("row (row 0 on top, toward -z)")

    right.imshow(measured, cmap="Blues", vmin=-0.6, vmax=1.6)
    for e in range(num_el):
        for a in range(num_az):
            az, el = directions[e * num_az + a]
            right.text(a, e - 0.15, str(e * num_az + a), ha="center", va="center", fontsize=11, weight="bold")
            right.text(a, e + 0.25, f"{az:+.0f}/{el:+.0f}", ha="center", va="center", fontsize=7)
    right.set_title(f"Beams: index = e x {num_az} + a, azimuth/elevation [deg]\n"
                    "dark: measured by the fixed checkerboard mask")
    right.set_xlabel("a (azimuth index)")
    right.set_ylabel("e (elevation index)")
    for ax, (n_y, n_x) in ((left, (rows, cols)), (right, (num_el, num_az))):
        ax.set_xticks(range(n_x))
        ax.set_yticks(range(n_y))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def on_files(files, config):
    files.append(File.generated(config, "figures/beam_order.png", content=beam_order_png()))
    return files
