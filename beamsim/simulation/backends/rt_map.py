"""The top view of a Sionna RT scene: its buildings as triangles in x/y (for maps of UE tracks)."""

from __future__ import annotations

import numpy as np

from beamsim.scenarios import Scenario

__all__ = ["scene_footprints"]

#: An object whose top is this far above the scene's lowest point is drawn (the ground is not).
_MIN_HEIGHT = 0.5


def scene_footprints(scenario: Scenario) -> np.ndarray:
    """[m, 3, 2] float64: the triangles of every object of ``scenario``'s scene that rises above
    the ground, projected onto x/y in scene coordinates [m] (walls project to lines, roofs to
    the footprint); empty for the ``empty`` scene.

    Raises:
        BackendUnavailableError: Sionna RT cannot run here; ScenarioError: unknown scene.
    """
    from beamsim.simulation.backends.rt import EMPTY_SCENE, RTBackend
    from beamsim.simulation.llvm import import_sionna_rt

    if scenario.rt is None or scenario.rt.scene == EMPTY_SCENE:
        return np.zeros((0, 3, 2))
    rt = import_sionna_rt()
    scene = rt.load_scene(RTBackend.scene_file(scenario.rt.scene))
    meshes = []
    for obj in scene.objects.values():
        vertices = np.asarray(obj.mi_mesh.vertex_positions_buffer().numpy(), dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(obj.mi_mesh.faces_buffer().numpy(), dtype=np.int64).reshape(-1, 3)
        meshes.append((vertices, faces))
    if not meshes:
        return np.zeros((0, 3, 2))
    ground = min(float(v[:, 2].min()) for v, _ in meshes)
    triangles = [v[f][:, :, :2] for v, f in meshes if float(v[:, 2].max()) > ground + _MIN_HEIGHT]
    return np.concatenate(triangles) if triangles else np.zeros((0, 3, 2))
