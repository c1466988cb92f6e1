// Runs the viewer script of a sagsim view3d.html under a stub DOM and WebGL context (node has
// neither), then checks what it drew: prints JSON with the draw calls and, for the first
// frame, the share of the mesh's vertices that the view matrix puts inside the clip volume.
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const script = html.slice(html.indexOf('<script>') + 8, html.lastIndexOf('</script>'));
const data = JSON.parse(script.slice(script.indexOf('const DATA = ') + 13, script.indexOf(';\n')));
const calls = [], mvps = [];
const gl = new Proxy({}, {get: (t, k) => {
  if (typeof k !== 'string') return undefined;
  if (/^[A-Z_0-9]+$/.test(k)) return k;  // the GL constants, as their names
  if (k === 'drawElements' || k === 'drawArrays') return (...a) => calls.push([k, ...a]);
  if (k === 'getAttribLocation') return (prog, name) => ({p: 0, n: 1, c: 2}[name]);
  if (k === 'getUniformLocation') return (prog, name) => name;
  if (k === 'uniformMatrix4fv') return (name, tr, m) => { if (name === 'mvp') mvps.push(Array.from(m)); };
  return () => ({});
}});
const canvas = {clientWidth: 800, clientHeight: 600, getContext: () => gl};
globalThis.window = globalThis;
globalThis.document = {getElementById: () => canvas, body: {insertAdjacentHTML: () => {}}};
eval(script);
canvas.onmousedown({clientX: 0, clientY: 0});
window.onmousemove({clientX: 30, clientY: 10});
canvas.onwheel({deltaY: 100, preventDefault: () => {}});
canvas.ondblclick();
const b = Buffer.from(data.positions, 'base64');
const P = new Float32Array(b.buffer, b.byteOffset, b.length / 4), m = mvps[0];
let inside = 0, lo = [1, 1], hi = [-1, -1];
for (let i = 0; i < P.length; i += 3) {
  const c = [0, 1, 2, 3].map(r => m[r] * P[i] + m[4 + r] * P[i + 1] + m[8 + r] * P[i + 2] + m[12 + r]);
  if (c[3] > 0 && Math.abs(c[0]) < c[3] && Math.abs(c[1]) < c[3] && Math.abs(c[2]) < c[3]) inside++;
  for (const a of [0, 1]) { lo[a] = Math.min(lo[a], c[a] / c[3]); hi[a] = Math.max(hi[a], c[a] / c[3]); }
}
console.log(JSON.stringify({calls: calls, frames: mvps.length, inside: inside / (P.length / 3),
                             span: [hi[0] - lo[0], hi[1] - lo[1]]}));
