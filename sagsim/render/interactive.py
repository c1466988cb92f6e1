"""An interactive 3D view as one self-contained HTML file: the skin surface coloured by a field,
with optional lines (threads) and points (cogs), drawn by a small WebGL viewer written here.

pyvista's own HTML export needs a trame server, which neither CI nor an offline reader has;
this file needs nothing but a browser: the mesh travels inside it as base64 arrays, and the
viewer (drag to turn, wheel to zoom, double-click to reset) is ~100 lines of plain JavaScript.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib
import numpy as np

from ..errors import RenderError
from ..io import atomic_path

MAX_VERTICES = 2_000_000  # beyond this a browser page gets sluggish: refuse rather than write it


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")


def colours(values: np.ndarray, clim: tuple[float, float], cmap: str) -> np.ndarray:
    """RGB bytes (N,3) of ``values`` through matplotlib colour map ``cmap`` over ``clim``."""
    lo, hi = clim
    t = np.clip((np.asarray(values, float) - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    return (255 * matplotlib.colormaps[cmap](t)[:, :3]).round().astype(np.uint8)


def surface_payload(points: np.ndarray, triangles: np.ndarray, values: np.ndarray, clim, cmap: str,
                    lines: list[np.ndarray] = (), line_color: str = "#6a2c91",
                    marks: np.ndarray | None = None, mark_color: str = "#000000") -> dict:
    """The data the viewer draws, in millimetres about the centre (keeps float32 exact enough)."""
    points = np.asarray(points, float)
    if len(points) > MAX_VERTICES:
        raise RenderError(f"interactive view: {len(points)} vertices is more than {MAX_VERTICES}")
    used = np.unique(triangles)
    remap = np.full(len(points), -1, np.int64)
    remap[used] = np.arange(len(used))
    centre = points[used].mean(axis=0)
    mm = lambda p: (1e3 * (np.asarray(p, float) - centre)).astype(np.float32)  # noqa: E731
    seg = [np.stack([p[:-1], p[1:]], 1).reshape(-1, 3) for p in lines if len(p) > 1]
    return {"positions": _b64(mm(points[used])), "indices": _b64(remap[triangles].astype(np.uint32)),
            "colors": _b64(colours(np.asarray(values)[used], clim, cmap)),
            "lines": _b64(mm(np.concatenate(seg)) if seg else np.zeros((0, 3), np.float32)),
            "line_color": line_color,
            "marks": _b64(mm(marks) if marks is not None and len(marks) else np.zeros((0, 3), np.float32)),
            "mark_color": mark_color, "radius_mm": float(np.linalg.norm(mm(points[used]), axis=1).max())}


def write_view(path: Path, title: str, payload: dict, bar_title: str, clim, cmap: str) -> Path:
    """Write the viewer page for ``payload`` (from :func:`surface_payload`) with a colour bar."""
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * i / 10:.0f}%"
                      for i, (r, g, b) in enumerate(colours(np.linspace(clim[0], clim[1], 11), clim, cmap)))
    page = _TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__DATA__", json.dumps(payload)) \
        .replace("__BAR__", html.escape(bar_title)).replace("__STOPS__", stops) \
        .replace("__LO__", f"{clim[0]:.3g}").replace("__HI__", f"{clim[1]:.3g}")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def read_payload(path: Path) -> dict:
    """The arrays a view file carries (for tests and tools): positions (N,3) mm, indices (F,3),
    colors (N,3), lines (2L,3) mm, marks (K,3) mm."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index("const DATA = ") + len("const DATA = ")
    data = json.loads(text[start:text.index(";\n", start)])
    dec = lambda key, dtype, width: np.frombuffer(base64.b64decode(data[key]), dtype).reshape(-1, width)  # noqa: E731
    return {"positions": dec("positions", np.float32, 3), "indices": dec("indices", np.uint32, 3),
            "colors": dec("colors", np.uint8, 3), "lines": dec("lines", np.float32, 3),
            "marks": dec("marks", np.float32, 3)}


_TEMPLATE = """<!doctype html><html><head><meta charset='utf-8'><title>__TITLE__</title>
<style>body{font-family:sans-serif;margin:0;background:#fff}canvas{display:block;width:100vw;height:92vh}
#bar{margin:4px 12px;display:flex;align-items:center;gap:8px;font-size:13px}
#grad{width:320px;height:14px;background:linear-gradient(to right, __STOPS__);border:1px solid #888}</style>
</head><body><canvas id='view'></canvas>
<div id='bar'><b>__TITLE__</b> &nbsp; __BAR__: __LO__ <span id='grad'></span> __HI__
&nbsp; (drag: turn, wheel: zoom, double-click: reset)</div>
<script>
const DATA = __DATA__;
function arr(key, T) { const b = atob(DATA[key]); const u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return new T(u.buffer); }
const P = arr('positions', Float32Array), I = arr('indices', Uint32Array), C = arr('colors', Uint8Array);
const L = arr('lines', Float32Array), M = arr('marks', Float32Array);
const N = new Float32Array(P.length);  // vertex normals: area-weighted face normals
for (let f = 0; f < I.length; f += 3) {
  const a = 3 * I[f], b = 3 * I[f + 1], c = 3 * I[f + 2];
  const u = [P[b] - P[a], P[b + 1] - P[a + 1], P[b + 2] - P[a + 2]], v = [P[c] - P[a], P[c + 1] - P[a + 1], P[c + 2] - P[a + 2]];
  const n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  for (const k of [a, b, c]) { N[k] += n[0]; N[k + 1] += n[1]; N[k + 2] += n[2]; } }
const canvas = document.getElementById('view'), gl = canvas.getContext('webgl');
if (!gl) document.body.insertAdjacentHTML('afterbegin', '<p>This browser has no WebGL.</p>');
gl.getExtension('OES_element_index_uint');
function shader(type, src) { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); return s; }
const prog = gl.createProgram();
gl.attachShader(prog, shader(gl.VERTEX_SHADER, `attribute vec3 p; attribute vec3 n; attribute vec3 c;
  uniform mat4 mvp; uniform mat4 rot; uniform float lit; uniform float size; varying vec3 col;
  void main() { gl_Position = mvp * vec4(p, 1.0); gl_PointSize = size;
    vec3 nn = normalize((rot * vec4(n + vec3(1e-9), 0.0)).xyz);
    col = c * mix(1.0, 0.45 + 0.55 * abs(nn.z), lit); }`));
gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, `precision mediump float; varying vec3 col;
  void main() { gl_FragColor = vec4(col, 1.0); }`));
gl.linkProgram(prog); gl.useProgram(prog);
function buffer(data, target) { const b = gl.createBuffer(); gl.bindBuffer(target || gl.ARRAY_BUFFER, b);
  gl.bufferData(target || gl.ARRAY_BUFFER, data, gl.STATIC_DRAW); return b; }
const loc = k => gl.getAttribLocation(prog, k);
const uni = k => gl.getUniformLocation(prog, k);
const bufs = {p: buffer(P), n: buffer(N), c: buffer(new Float32Array(C).map(v => v / 255)), i: buffer(I, gl.ELEMENT_ARRAY_BUFFER),
  l: buffer(L.length ? L : new Float32Array(3)), m: buffer(M.length ? M : new Float32Array(3))};
function hex(h) { return [1, 3, 5].map(i => parseInt(h.substr(i, 2), 16) / 255); }
function attrib(name, buf) { gl.bindBuffer(gl.ARRAY_BUFFER, buf); gl.enableVertexAttribArray(loc(name));
  gl.vertexAttribPointer(loc(name), 3, gl.FLOAT, false, 0, 0); }
function constant(name, v) { gl.disableVertexAttribArray(loc(name)); gl.vertexAttrib3f(loc(name), v[0], v[1], v[2]); }
function mul(a, b) { const r = new Float32Array(16); for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
  let s = 0; for (let k = 0; k < 4; k++) s += a[k * 4 + j] * b[i * 4 + k]; r[i * 4 + j] = s; } return r; }
let yaw = 0.5, pitch = 0.15, dist = 3.2 * DATA.radius_mm, drag = null;
function draw() {
  const w = canvas.clientWidth, h = canvas.clientHeight; canvas.width = w; canvas.height = h; gl.viewport(0, 0, w, h);
  gl.clearColor(1, 1, 1, 1); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT); gl.enable(gl.DEPTH_TEST);
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const ry = [cy, 0, -sy, 0, 0, 1, 0, 0, sy, 0, cy, 0, 0, 0, 0, 1], rx = [1, 0, 0, 0, 0, cp, sp, 0, 0, -sp, cp, 0, 0, 0, 0, 1];
  const rot = mul(rx, ry), f = 1 / Math.tan(0.35), near = dist / 20, far = dist * 4;
  const view = mul([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -dist, 1], rot);
  const proj = [f * h / w, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1, 0, 0, 2 * far * near / (near - far), 0];
  gl.uniformMatrix4fv(uni('mvp'), false, mul(proj, view)); gl.uniformMatrix4fv(uni('rot'), false, rot);
  attrib('p', bufs.p); attrib('n', bufs.n); attrib('c', bufs.c); gl.uniform1f(uni('lit'), 1); gl.uniform1f(uni('size'), 1);
  gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, bufs.i); gl.drawElements(gl.TRIANGLES, I.length, gl.UNSIGNED_INT, 0);
  gl.uniform1f(uni('lit'), 0); gl.disable(gl.DEPTH_TEST);  // threads and cogs show through the skin
  if (L.length) { attrib('p', bufs.l); constant('n', [0, 0, 1]); constant('c', hex(DATA.line_color)); gl.drawArrays(gl.LINES, 0, L.length / 3); }
  if (M.length) { attrib('p', bufs.m); constant('n', [0, 0, 1]); constant('c', hex(DATA.mark_color)); gl.uniform1f(uni('size'), 7);
    gl.drawArrays(gl.POINTS, 0, M.length / 3); } }
canvas.onmousedown = e => { drag = [e.clientX, e.clientY]; };
window.onmouseup = () => { drag = null; };
window.onmousemove = e => { if (!drag) return; yaw += 0.01 * (e.clientX - drag[0]);
  pitch = Math.max(-1.5, Math.min(1.5, pitch + 0.01 * (e.clientY - drag[1]))); drag = [e.clientX, e.clientY]; draw(); };
canvas.onwheel = e => { e.preventDefault(); dist *= Math.exp(0.001 * e.deltaY); draw(); };
canvas.ondblclick = () => { yaw = 0.5; pitch = 0.15; dist = 3.2 * DATA.radius_mm; draw(); };
window.onresize = draw; draw();
</script></body></html>
"""
