#!/usr/bin/env python3
"""Generate the sample tutor avatar, assets/avatars/sample.glb, from code.

Every new organisation is offered this model as "Sample tutor"; the server embeds the file at build time
(include_bytes! in src/avatar/service.rs), so a rebuild picks up a regenerated file.

It is a small stylised figure (about 1.7 units tall, Y up, facing +Z, feet at y=0) made of low-poly lathe shapes
with flat PBR colours and no textures, skinned to a 9-joint skeleton, with morph targets on the head mesh
(mouthOpen, mouthRound, mouthWide, named by mesh.extras.targetNames as three.js reads them) and five clips:
idle, talk, wave, think, nod.

    python3 scripts/make-sample-avatar.py           regenerate assets/avatars/sample.glb
    python3 scripts/make-sample-avatar.py --check   exit 1 if the checked-in file differs from what this writes

Standard library only, and deterministic: the same code writes the same bytes, so --check can run in CI.
To change the figure, edit this script, regenerate, and commit both.
"""
import json
import math
import struct
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "assets" / "avatars" / "sample.glb"
TARGETS = ["mouthOpen", "mouthRound", "mouthWide"]
FLOAT, UBYTE, USHORT = 5126, 5121, 5123
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def f32(x):
    """Round to float32 so that min/max written in the JSON equal the stored data exactly."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def add(a, b): return tuple(x + y for x, y in zip(a, b))
def sub(a, b): return tuple(x - y for x, y in zip(a, b))
def mul(a, s): return tuple(x * s for x in a)
def dot(a, b): return sum(x * y for x, y in zip(a, b))
def cross(a, b): return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
def unit(a): return mul(a, 1 / math.sqrt(dot(a, a)))


# --- Skeleton -------------------------------------------------------------------------------------------------------
# (name, parent, world position in the bind pose). Joints have no bind rotation, so every inverse bind matrix is a
# plain translation and the angles of the clips below read as rotations about the world axes (x: pitch, positive
# tips forward/down; z: roll). The character's left is +X (it faces +Z).
JOINTS = [
    ("hips", None, (0, 0.74, 0)),
    ("spine", "hips", (0, 0.88, 0)),
    ("chest", "spine", (0, 1.04, 0)),
    ("neck", "chest", (0, 1.24, 0)),
    ("head", "neck", (0, 1.33, 0)),
    ("upperarm_L", "chest", (0.18, 1.16, 0)),
    ("forearm_L", "upperarm_L", (0.27, 0.92, 0)),
    ("upperarm_R", "chest", (-0.18, 1.16, 0)),
    ("forearm_R", "upperarm_R", (-0.27, 0.92, 0)),
]
J = {name: i for i, (name, _, _) in enumerate(JOINTS)}
POS = {name: p for name, _, p in JOINTS}
WRIST = {"L": (0.31, 0.70, 0), "R": (-0.31, 0.70, 0)}
HEAD_C, HEAD_R = (0, 1.48, 0), 0.2  # the head sphere


# --- Shapes ---------------------------------------------------------------------------------------------------------
def lathe(profile, segs):
    """Revolve (radius, height) points, listed bottom to top, around +Y: positions, normals, triangles (CCW out).
    A point with radius 0 is a pole and becomes one vertex, so no triangle is degenerate."""
    pos, nrm, rings = [], [], []
    for i, (r, h) in enumerate(profile):
        (r0, h0), (r1, h1) = profile[max(i - 1, 0)], profile[min(i + 1, len(profile) - 1)]
        nr, nh = unit((h1 - h0, r0 - r1))  # the profile's tangent turned outwards
        if r < 1e-9:
            rings.append([len(pos)] * segs)
            pos.append((0, h, 0))
            nrm.append((0, math.copysign(1, nh), 0))
            continue
        rings.append(list(range(len(pos), len(pos) + segs)))
        for k in range(segs):
            c, s = math.cos(2 * math.pi * k / segs), -math.sin(2 * math.pi * k / segs)  # -sin: CCW seen from outside
            pos.append((r * c, h, r * s))
            nrm.append((nr * c, nh, nr * s))
    tris = []
    for lo, hi in zip(rings, rings[1:]):
        for k in range(segs):
            a, b, c, d = lo[k], lo[(k + 1) % segs], hi[(k + 1) % segs], hi[k]
            if a != b:
                tris.append((a, b, c))
            if c != d:
                tris.append((a, c, d))
    return pos, nrm, tris


def blob(rings=10, segs=14, p=2.0):
    """Unit superellipsoid around the origin (p=2: a sphere; larger p: boxier, e.g. the torso)."""
    e = 2 / p
    prof = []
    for i in range(rings + 1):
        t = math.pi * i / rings
        c = math.cos(t)
        prof.append((math.sin(t) ** e if 0 < i < rings else 0.0, -math.copysign(abs(c) ** e, c)))
    return lathe(prof, segs)


def capsule(length, r, rings=4, segs=12):
    """Capsule along +Y from 0 to length: limbs pivot cleanly about the centres of their round ends."""
    prof = [(r * math.sin(math.pi / 2 * i / rings), -r * math.cos(math.pi / 2 * i / rings)) for i in range(rings + 1)]
    prof += [(r * math.cos(math.pi / 2 * i / rings), length + r * math.sin(math.pi / 2 * i / rings))
             for i in range(rings + 1)]
    prof[-1] = (0.0, prof[-1][1])
    return lathe(prof, segs)


def frame_along(d):
    """Rotation (images of local x, y, z) taking +Y to d."""
    y = unit(d)
    x = unit(cross(y, (0, 0, 1)))
    return x, y, cross(x, y)


def frame_facing(n):
    """Rotation taking +Z to n with +Y kept as upright as possible: for features drawn on the head."""
    x = unit(cross((0, 1, 0), n))
    return x, cross(n, x), n


def face_dir(yaw, pitch):
    """Direction from the head centre: yaw towards the character's left (+X), pitch up."""
    return (math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch))


def on_head(yaw, pitch, lift=0.0):
    return add(HEAD_C, mul(face_dir(yaw, pitch), HEAD_R + lift))


# --- Materials (sRGB colours, converted: glTF baseColorFactor is linear) ----------------------------------------
PALETTE = {
    "skin": "E9B796", "hair": "4A3228", "shirt": "2F8F9D", "trousers": "3B4A6B", "shoes": "2A2A30",
    "eye": "1F2430", "eyeShine": "FFFFFF", "mouth": "7A2631", "cheek": "F29C9C",
}


def linear(hex_rgb):
    def one(c):
        c = int(hex_rgb[c:c + 2], 16) / 255
        return round(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4, 4)
    return [one(0), one(2), one(4), 1.0]


MATERIALS = [{"name": name, "pbrMetallicRoughness": {"baseColorFactor": linear(rgb), "metallicFactor": 0.0,
              "roughnessFactor": 0.35 if name in ("eye", "eyeShine") else 0.6},
              **({"doubleSided": True} if name == "hair" else {})} for name, rgb in PALETTE.items()]
MAT = {name: i for i, name in enumerate(PALETTE)}


# --- Parts ----------------------------------------------------------------------------------------------------------
PRIMS = {}  # (mesh name, material) -> accumulated geometry and skin data, in insertion (= output) order


def part(mesh, mat, shape, skin, scale=(1, 1, 1), frame=((1, 0, 0), (0, 1, 0), (0, 0, 1)), at=(0, 0, 0)):
    """Scale, rotate (frame: images of x, y, z) and move a shape, then add it to a primitive.
    skin: a joint name (rigid), or a function of the vertex position giving [(joint, weight), (joint, weight)]."""
    pos, nrm, tris = shape
    prim = PRIMS.setdefault((mesh, mat), {"pos": [], "nrm": [], "tris": [], "joints": [], "weights": []})
    base = len(prim["pos"])
    rot = lambda v: tuple(sum(frame[j][i] * v[j] for j in range(3)) for i in range(3))
    for p, n in zip(pos, nrm):
        p = add(at, rot(tuple(a * s for a, s in zip(p, scale))))
        prim["pos"].append(p)
        prim["nrm"].append(unit(rot(tuple(a / s for a, s in zip(n, scale)))))  # inverse transpose of the scale
        pairs = [(skin, 1.0)] if isinstance(skin, str) else skin(p)
        pairs = (pairs + [(pairs[0][0], 0.0)])[:2]
        prim["joints"].append((J[pairs[0][0]], J[pairs[1][0]] if pairs[1][1] else 0, 0, 0))
        prim["weights"].append((pairs[0][1], pairs[1][1], 0.0, 0.0))
    prim["tris"] += [tuple(base + i for i in t) for t in tris]


def limb(mesh, mat, a, b, r, skin, rings=4, segs=12):
    part(mesh, mat, capsule(math.dist(a, b), r, rings, segs), skin, frame=frame_along(sub(b, a)), at=a)


def torso_skin(p):
    """The torso bends smoothly: hips below, spine in the middle, chest above. Weights are multiples of 1/256 so
    each pair sums to exactly 1 in float32."""
    anchors = [(0.80, "hips"), (0.95, "spine"), (1.10, "chest")]
    y = p[1]
    if y <= anchors[0][0]:
        return [("hips", 1.0)]
    for (y0, j0), (y1, j1) in zip(anchors, anchors[1:]):
        if y <= y1:
            w = round((y1 - y) / (y1 - y0) * 256) / 256
            return [(j0, w), (j1, 1 - w)] if w > 0 else [(j1, 1.0)]
    return [("chest", 1.0)]


def build_body():
    part("Body", "shirt", blob(12, 18, p=3.0), torso_skin, scale=(0.2, 0.3, 0.16), at=(0, 0.98, 0))
    part("Body", "trousers", blob(8, 16, p=2.5), "hips", scale=(0.17, 0.1, 0.125), at=(0, 0.72, 0))  # pelvis
    for x in (0.1, -0.1):
        limb("Body", "trousers", (x, 0.1, 0), (x, 0.68, 0), 0.078, "hips", rings=3)
        part("Body", "shoes", blob(6, 12, p=2.5), "hips", scale=(0.08, 0.05, 0.13), at=(x, 0.05, 0.03))
    for s in ("L", "R"):
        shoulder, elbow, wrist = POS["upperarm_" + s], POS["forearm_" + s], WRIST[s]
        limb("Body", "shirt", shoulder, elbow, 0.058, "upperarm_" + s, rings=3, segs=10)
        limb("Body", "shirt", elbow, wrist, 0.048, "forearm_" + s, rings=3, segs=10)
        hand = add(wrist, mul(unit(sub(wrist, elbow)), 0.045))
        part("Body", "skin", blob(6, 10), "forearm_" + s, scale=(0.05, 0.06, 0.045), at=hand)
    limb("Body", "skin", (0, 1.2, 0), (0, 1.36, 0), 0.052, "neck", rings=3)


def build_head():
    part("Head", "skin", blob(12, 20), "head", scale=(HEAD_R,) * 3, at=HEAD_C)
    hair_axis = (0, math.cos(0.35), -math.sin(0.35))  # tipped back: a high hairline in front, lower at the back
    cap = [(0.212 * math.sin(t), 0.212 * math.cos(t)) for t in (1.45 * (1 - i / 8) for i in range(9))]
    part("Head", "hair", lathe(cap, 20), "head", frame=frame_along(hair_axis), at=HEAD_C)
    part("Head", "hair", blob(6, 10), "head", scale=(0.07, 0.035, 0.06), frame=frame_facing(face_dir(0.25, 1.1)),
         at=on_head(0.25, 1.1, 0.01))  # a tuft on top
    for side in (1, -1):
        eye = frame_facing(face_dir(side * 0.36, 0.05))
        part("Head", "eye", blob(6, 10), "head", scale=(0.026, 0.036, 0.012), frame=eye,
             at=on_head(side * 0.36, 0.05, -0.002))
        part("Head", "eyeShine", blob(4, 8), "head", scale=(0.008,) * 3, at=on_head(side * 0.36 + 0.04, 0.1, 0.008))
        brow = [on_head(side * yaw, pitch, 0.002) for yaw, pitch in ((0.22, 0.27), (0.35, 0.305), (0.48, 0.27))]
        for a, b in zip(brow, brow[1:]):  # a soft arch reads as friendly; a straight slant looked stern
            limb("Head", "hair", a, b, 0.0075, "head", rings=2, segs=6)
        part("Head", "cheek", blob(4, 10), "head", scale=(0.036, 0.022, 0.006),
             frame=frame_facing(face_dir(side * 0.62, -0.17)), at=on_head(side * 0.62, -0.17, -0.001))
        ear = add(HEAD_C, (side * 0.195, -0.01, -0.01))
        part("Head", "skin", blob(6, 10), "head", scale=(0.025, 0.048, 0.035), at=ear)
    part("Head", "skin", blob(6, 10), "head", scale=(0.03, 0.025, 0.03), at=on_head(0, -0.1, -0.006))  # nose


# The mouth: a dark shape on the face, one row of vertices along the upper lip and one along the lower, meeting at
# the corners. Each shape is (half width, how far the middle dips below the corners (the smile), upper lip height,
# lower lip depth); a morph target is the difference between its shape and the resting one.
MOUTH_PITCH, MOUTH_COLS = -0.38, 14
MOUTH = {"rest": (0.055, 0.018, 0.004, 0.010), "mouthOpen": (0.05, 0.012, 0.010, 0.055),
         "mouthRound": (0.024, 0.0, 0.02, 0.026), "mouthWide": (0.078, 0.024, 0.004, 0.016)}


def mouth_points(w, smile, up, down):
    ex, ey, n = frame_facing(face_dir(0, MOUTH_PITCH))
    centre = on_head(0, MOUTH_PITCH)
    uv = [(-w, 0)]
    for i in range(1, MOUTH_COLS):
        s = -math.cos(math.pi * i / MOUTH_COLS)  # denser near the corners, where the outline turns
        mid, bulge = smile * (s * s - 1), math.sqrt(1 - s * s)
        uv += [(s * w, mid + up * bulge), (s * w, mid - down * bulge)]
    uv.append((w, 0))
    # Drawn on the plane touching the face, then pushed out onto a sphere just above the skin.
    dirs = [unit(sub(add(centre, add(mul(ex, u), mul(ey, v))), HEAD_C)) for u, v in uv]
    return [add(HEAD_C, mul(d, HEAD_R + 0.005)) for d in dirs], dirs


def build_mouth():
    pos, nrm = mouth_points(*MOUTH["rest"])
    last = len(pos) - 1
    tris = [(0, 2, 1)] + [(1 + 2 * i, 2 + 2 * i, 4 + 2 * i) for i in range(MOUTH_COLS - 2)]
    tris += [(1 + 2 * i, 4 + 2 * i, 3 + 2 * i) for i in range(MOUTH_COLS - 2)] + [(last - 2, last - 1, last)]
    part("Head", "mouth", (pos, nrm, tris), "head")
    return [[sub(p, q) for p, q in zip(mouth_points(*MOUTH[name])[0], pos)] for name in TARGETS]


# --- Clips ----------------------------------------------------------------------------------------------------------
# Each clip is a function of time giving {joint: (x, y, z) degrees} and, for talk, the three morph weights. The
# one-shot clips (wave, think, nod) start and end in the bind pose, so they blend back into idle; idle and talk are
# periodic, so they loop seamlessly.
def ease(x):
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def idle(t):
    a = 2 * math.pi * t / 3.0
    breath = 0.5 - 0.5 * math.cos(a)
    return {"spine": (0, 0, 1.2 * math.sin(a)), "chest": (-1.5 * breath, 0, 0), "neck": (0, 0, -0.8 * math.sin(a)),
            "head": (1.0 * math.sin(2 * a), 2.0 * math.sin(a + 0.6), 1.5 * math.sin(a + 0.6)),
            "upperarm_L": (0, 0, 1.5 + 2 * breath), "upperarm_R": (0, 0, -1.5 - 2 * breath),
            "forearm_L": (-6 - 2 * breath, 0, 0), "forearm_R": (-6 - 2 * breath, 0, 0)}, None


def talk(t):
    a = 2 * math.pi * t / 1.2
    pose = {"head": (3 * math.sin(2 * a), 2 * math.sin(a), 1.5 * math.sin(a)), "chest": (0, 1.5 * math.sin(a), 0),
            "upperarm_L": (-4 - 4 * math.sin(a), 0, 3), "forearm_L": (-18 - 10 * math.sin(a), 0, 0)}
    syllables = abs(math.sin(5 * a / 2))  # five syllables a loop, closed at the loop point
    return pose, (0.75 * syllables * (0.8 + 0.2 * math.cos(3 * a)),
                  0.35 * max(0.0, math.sin(2 * a)), 0.35 * max(0.0, -math.sin(2 * a)))


def wave(t):
    up = ease(t / 0.4) * (1 - ease((t - 1.6) / 0.4))
    swing = 22 * math.sin(2 * math.pi * (t - 0.4) / 0.4) if 0.4 <= t <= 1.6 else 0.0  # three waves of the hand
    return {"upperarm_R": (-15 * up, 0, -85 * up), "forearm_R": (-10 * up, 0, -70 * up + swing * up),
            "chest": (0, 0, -3 * up), "head": (-3 * up, -4 * up, 6 * up)}, None


def think(t):
    up = ease(t / 0.5) * (1 - ease((t - 2.0) / 0.5))
    ponder = 2.5 * math.sin(2 * math.pi * (t - 0.5) / 1.5) if 0.5 <= t <= 2.0 else 0.0
    return {"head": (-6 * up, 4 * up, 10 * up + ponder), "neck": (-2 * up, 0, 3 * up),
            # Solved offline (small numeric search) so the hand rests under the tilted chin, elbow out in front.
            "upperarm_R": (-63 * up, 29 * up, 19 * up), "forearm_R": (-54 * up, 54 * up, 63 * up)}, None


def nod(t):
    dip = math.sin(2 * math.pi * t / 1.2) ** 2  # down and up twice
    return {"head": (14 * dip, 0, 0), "neck": (4 * dip, 0, 0)}, None


# (name, seconds, keyframes a second, pose function): LINEAR keys at these rates look smooth and keep the file small;
# talk is densest because its mouth moves about four times a second.
CLIPS = [("idle", 3.0, 12, idle), ("talk", 1.2, 25, talk), ("wave", 2.0, 20, wave), ("think", 2.5, 16, think),
         ("nod", 1.2, 20, nod)]


def quat(rx, ry, rz):
    """Euler degrees to a unit quaternion (x, y, z, w), applied x first, then y, then z."""
    def axis(i, deg):
        q = [0.0, 0.0, 0.0, math.cos(math.radians(deg) / 2)]
        q[i] = math.sin(math.radians(deg) / 2)
        return q
    def qmul(a, b):
        (ax, ay, az, aw), (bx, by, bz, bw) = a, b
        return [aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz]
    q = qmul(qmul(axis(2, rz), axis(1, ry)), axis(0, rx))
    return tuple(unit(q))


# --- glTF / GLB writing ---------------------------------------------------------------------------------------------
class Bin:
    """The one buffer: bufferViews start on 4-byte boundaries, one view per accessor unless shared on purpose."""
    def __init__(self):
        self.data, self.views, self.accessors = bytearray(), [], []

    def view(self, raw, target=None, stride=None):
        self.data += b"\0" * (-len(self.data) % 4)
        v = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        v.update({"byteStride": stride} if stride else {})
        v.update({"target": target} if target else {})
        self.data += raw
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, rows, kind, ctype=FLOAT, target=None, bounds=False, view=None):
        fmt = {FLOAT: "f", UBYTE: "B", USHORT: "H"}[ctype]
        rows = [tuple(f32(x) if ctype == FLOAT else x for x in r) for r in rows]
        flat = [x for r in rows for x in r]
        if view is None:
            view = self.view(struct.pack("<%d%s" % (len(flat), fmt), *flat), target)
        acc = {"bufferView": view, "componentType": ctype, "count": len(rows), "type": kind}
        if bounds:
            acc["min"] = [min(c) for c in zip(*rows)]
            acc["max"] = [max(c) for c in zip(*rows)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def build():
    PRIMS.clear()
    build_body()
    build_head()
    deltas = build_mouth()
    b = Bin()
    # Every Head primitive needs the same three targets; all but the mouth's are zero, read from one zeroed view.
    most = max(len(p["pos"]) for (mesh, _), p in PRIMS.items() if mesh == "Head")
    zeros = b.view(bytes(12 * most), ARRAY_BUFFER, stride=12)
    meshes = {"Body": [], "Head": []}
    for (mesh, mat), p in PRIMS.items():
        attrs = {"POSITION": b.accessor(p["pos"], "VEC3", target=ARRAY_BUFFER, bounds=True),
                 "NORMAL": b.accessor(p["nrm"], "VEC3", target=ARRAY_BUFFER),
                 "JOINTS_0": b.accessor(p["joints"], "VEC4", UBYTE, ARRAY_BUFFER),
                 "WEIGHTS_0": b.accessor(p["weights"], "VEC4", target=ARRAY_BUFFER)}
        prim = {"attributes": attrs, "indices": b.accessor([(i,) for t in p["tris"] for i in t], "SCALAR", USHORT,
                                                           ELEMENT_ARRAY_BUFFER), "material": MAT[mat]}
        if mesh == "Head":
            if mat == "mouth":
                prim["targets"] = [{"POSITION": b.accessor(d, "VEC3", target=ARRAY_BUFFER, bounds=True)}
                                   for d in deltas]
            else:
                zero = b.accessor([(0.0, 0.0, 0.0)] * len(p["pos"]), "VEC3", bounds=True, view=zeros)
                prim["targets"] = [{"POSITION": zero}] * len(TARGETS)
        meshes[mesh].append(prim)

    # Nodes: the joints (0..8), then the armature that holds them and the two skinned meshes, all three roots of the
    # scene. Skinned mesh nodes carry no transform and have no parent (glTF ignores both; the joints place the parts,
    # and the Khronos validator warns about a skinned mesh below another node).
    nodes = []
    for name, parent, p in JOINTS:
        node = {"name": name, "translation": list(sub(p, POS[parent]) if parent else p)}
        kids = [J[n] for n, par, _ in JOINTS if par == name]
        nodes.append({**node, **({"children": kids} if kids else {})})
    arm, body, head_node = len(nodes), len(nodes) + 1, len(nodes) + 2
    nodes += [{"name": "Armature", "children": [J["hips"]]}, {"name": "Body", "mesh": 0, "skin": 0},
              {"name": "Head", "mesh": 1, "skin": 0}]
    ibm = b.accessor([(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -p[0], -p[1], -p[2], 1) for _, _, p in JOINTS], "MAT4")

    animations = []
    for name, duration, fps, clip in CLIPS:
        n = round(duration * fps)
        times = [duration * i / n for i in range(n + 1)]
        frames = [clip(t) for t in times]
        inp = b.accessor([(t,) for t in times], "SCALAR", bounds=True)
        samplers, channels = [], []
        for joint in frames[0][0]:
            samplers.append({"input": inp, "output": b.accessor([quat(*f[0][joint]) for f in frames], "VEC4"),
                             "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": J[joint], "path": "rotation"}})
        if frames[0][1] is not None:  # morph weights: keyframes x targets scalars, targeting the Head node
            out = b.accessor([(w,) for f in frames for w in f[1]], "SCALAR")
            samplers.append({"input": inp, "output": out, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": head_node, "path": "weights"}})
        animations.append({"name": name, "channels": channels, "samplers": samplers})

    b.data += b"\0" * (-len(b.data) % 4)
    gltf = {
        "asset": {"version": "2.0", "generator": "bwenge scripts/make-sample-avatar.py",
                  "copyright": "Bwenge project, CC0 1.0 (public domain dedication)"},
        "scene": 0, "scenes": [{"name": "Sample tutor", "nodes": [arm, body, head_node]}], "nodes": nodes,
        "meshes": [{"name": "Body", "primitives": meshes["Body"]},
                   {"name": "Head", "primitives": meshes["Head"], "weights": [0.0] * len(TARGETS),
                    "extras": {"targetNames": TARGETS}}],
        "skins": [{"name": "Tutor", "joints": list(range(len(JOINTS))), "inverseBindMatrices": ibm,
                   "skeleton": J["hips"]}],
        "materials": MATERIALS, "animations": animations,
        "accessors": b.accessors, "bufferViews": b.views, "buffers": [{"byteLength": len(b.data)}],
    }
    return glb(gltf, bytes(b.data))


def glb(gltf, binary):
    """GLB container: header, JSON chunk padded with spaces, BIN chunk padded with zeros (4-byte aligned)."""
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (struct.pack("<III", 0x46546C67, 2, total) + struct.pack("<II", len(js), 0x4E4F534A) + js
            + struct.pack("<II", len(binary), 0x004E4942) + binary)


def main():
    data = build()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_bytes() != data:
            print(f"{OUT} is out of date: run python3 scripts/make-sample-avatar.py", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date ({len(data)} bytes)")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
