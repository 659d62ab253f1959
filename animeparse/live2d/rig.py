"""A Live2D Cubism 2 model posed by parameters, as textured triangle meshes in draw order.

The pure-Python runtime of ``live2d-py`` (``live2d.v2``) reads the ``.moc`` and deforms the meshes;
no OpenGL is involved. Poses are set directly from parameters, motion frames (``.mtn`` files,
read here so a frame is picked by number, not by wall-clock time), expressions and pose groups,
so the same choices always give the same meshes.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


class Live2DError(ValueError):
    """A model that cannot be loaded or drawn; the message names the file or id."""


def _runtime():
    """The live2d.v2 model class; the package prints a banner on import, kept off stdout."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from live2d.v2.core.live2d_model_opengl import Live2DModelOpenGL
    except ImportError as e:  # pragma: no cover - depends on the install
        raise Live2DError("rendering Live2D models needs the live2d-py package: pip install live2d-py") from e
    return Live2DModelOpenGL


@dataclass(frozen=True)
class Mesh:
    """One drawable as it is drawn now: triangles in model canvas units, texture coordinates
    (u right, v down, in 0..1 of the texture) and how it composes."""

    id: str  # drawable id, e.g. D_HAIR_FRONT.00
    part: str  # id of the part that holds it, e.g. PARTS_01_HAIR_FRONT_001
    points: np.ndarray  # (V, 2) float32
    uvs: np.ndarray  # (V, 2) float32
    triangles: np.ndarray  # (T, 3) int32
    texture: int
    opacity: float
    blend: int  # 0 normal, 1 screen (adds light), 2 multiply (adds shade)
    clip: tuple[str, ...]  # drawables whose union masks this one (empty: no mask)


def read_mtn(path: Path) -> dict[str, np.ndarray]:
    """Parameter curves of a ``.mtn`` motion (one value per frame; a single value holds)."""
    curves = {}
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        line = line.strip()
        if not line or line[0] in "#$" or "=" not in line:
            continue
        key, _, values = line.partition("=")
        try:
            curves[key.strip()] = np.array([float(v) for v in values.split(",") if v.strip()], np.float32)
        except ValueError as e:
            raise Live2DError(f"{path}: unreadable curve {key.strip()!r}") from e
    return curves


class Rig:
    """A loaded model: its meshes, textures, motions, expressions and pose groups."""

    def __init__(self, model_json: str | Path):
        self.path = Path(model_json)
        if not self.path.is_file():
            raise Live2DError(f"{self.path}: no such Live2D model file (expected a *.model.json)")
        try:
            setting = json.loads(self.path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as e:
            raise Live2DError(f"{self.path}: not a readable model setting JSON ({e})") from e
        home = self.path.parent
        moc = home / setting.get("model", "")
        if not moc.is_file():
            raise Live2DError(f"{self.path}: its model file {moc.name!r} is missing")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.model = _runtime().loadModel(moc.read_bytes(), "", False)
        except Exception as e:  # the runtime raises bare errors on corrupt files
            raise Live2DError(f"{moc}: not a readable Cubism 2 .moc file ({type(e).__name__}: {e})") from e
        self.textures = [self._texture(home / t) for t in setting.get("textures", [])]
        if not self.textures:
            raise Live2DError(f"{self.path}: names no textures")
        self.motions = [read_mtn(home / m["file"]) for group in setting.get("motions", {}).values()
                        for m in group if (home / m["file"]).is_file()]
        self.expressions = self._expressions(home, setting.get("expressions", []))
        self.pose_groups = self._pose_groups(home / setting["pose"]) if setting.get("pose") else []
        ctx = self.model.getModelContext()
        self.model.update()  # builds the contexts
        self.params = {str(p): i for i, p in enumerate(ctx.paramIdList) if p is not None}
        self._defaults = list(ctx.paramValues)
        self.canvas = (self.model.getCanvasWidth(), self.model.getCanvasHeight())

    @staticmethod
    def _texture(path: Path) -> np.ndarray:
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGBA"))
        except (OSError, ValueError) as e:
            raise Live2DError(f"{path}: texture missing or unreadable ({e})") from e

    def _expressions(self, home: Path, entries: list[dict]) -> list[list[dict]]:
        found = []
        for e in entries:
            path = home / e["file"]
            if not path.is_file():  # some packages list expressions they do not ship
                warnings.warn(f"{self.path}: expression file {e['file']!r} is missing; the model is drawn without it")
                continue
            found.append(json.loads(path.read_text(encoding="utf-8-sig")).get("params", []))
        return found

    @staticmethod
    def _pose_groups(path: Path) -> list[list[tuple[str, ...]]]:
        """Each group of alternatives (one arm set or another): each alternative's part, then
        the parts its ``link`` names, which show and hide with it (nico keeps its arms there)."""
        if not path.is_file():
            return []
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        return [[(p["id"], *p.get("link", ())) for p in g["group"]] for g in data.get("parts_visible", [])]

    # ------------------------------------------------------------ posing

    def reset(self) -> None:
        ctx = self.model.getModelContext()
        for i, v in enumerate(self._defaults):
            ctx.paramValues[i] = v

    def set(self, param: str, value: float) -> None:
        """Set a parameter (clamped to its range by the runtime); unknown ids are ignored,
        since motions and expressions name parameters some models lack."""
        if param in self.params:
            self.model.setParamFloat(param, float(value))

    def get(self, param: str) -> float:
        return float(self.model.getParamFloat(param)) if param in self.params else 0.0

    def apply_motion_frame(self, motion: int, frame: int) -> None:
        for key, curve in self.motions[motion].items():
            if key.startswith("VISIBLE:") or len(curve) == 0:
                continue
            self.set(key, curve[min(frame, len(curve) - 1)])

    def apply_expression(self, index: int, weight: float = 1.0) -> None:
        for p in self.expressions[index]:
            pid, val, calc = p["id"], float(p["val"]), p.get("calc", "add")
            if calc == "mult":
                self.set(pid, self.get(pid) * (1 + (val - 1) * weight))
            elif calc == "set":
                self.set(pid, val)
            else:
                self.set(pid, self.get(pid) + (val - float(p.get("def", 0))) * weight)

    def show_pose(self, choice: list[int]) -> None:
        """Make part ``choice[g]`` of each pose group visible and hide its alternatives."""
        for group, pick in zip(self.pose_groups, choice):
            for i, parts in enumerate(group):
                for part in parts:
                    idx = self.model.getPartsDataIndex(part)
                    if idx >= 0:
                        self.model.setPartsOpacity(idx, 1.0 if i == pick else 0.0)

    def meshes(self) -> list[Mesh]:
        """The visible drawables after the current parameters, back to front."""
        from live2d.v2.core.model_context import ModelContext

        m = self.model
        m.update()
        ctx = m.getModelContext()
        out = []
        for first in ctx.orderList_firstDrawIndex:
            i = first
            while i != ModelContext.NOT_USED_ORDER:
                data, dctx = ctx.drawDataList[i], ctx.drawContextList[i]
                if dctx.isAvailable():
                    dctx.partsOpacity = ctx.partsContextList[dctx.partsIndex].getPartsOpacity()
                    opacity = data.getOpacity(dctx) * dctx.partsOpacity * dctx.baseOpacity
                    if opacity >= 0.01:
                        out.append(Mesh(
                            id=str(data.getId()),
                            part=str(ctx.partsDataList[dctx.partsIndex].id),
                            points=np.asarray(dctx.getTransformedPoints(), np.float32).reshape(-1, 2),
                            uvs=np.asarray(data.uvs, np.float32).reshape(-1, 2),
                            triangles=np.asarray(data.indexArray, np.int32).reshape(-1, 3),
                            texture=max(data.textureNo, 0),
                            opacity=float(opacity),
                            blend=int(data.colorCompositionType),
                            clip=tuple(str(c) for c in (data.getClipIDList() or ())),
                        ))
                nxt = ctx.nextList_drawIndex[i]
                if nxt <= i or nxt == ModelContext.NO_NEXT:
                    break
                i = nxt
        return out

    def drawable_ids(self) -> list[tuple[str, str]]:
        """(drawable id, part id) of every drawable the model has, visible or not."""
        ctx = self.model.getModelContext()
        return [(str(d.getId()), str(ctx.partsDataList[c.partsIndex].id))
                for d, c in zip(ctx.drawDataList, ctx.drawContextList)]
