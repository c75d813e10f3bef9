// Painting a page's ink on a canvas, and placing a page in its view (zoom and
// pan). Board coordinates run 0..10000 across the page's width and down its
// height; a stroke's width (and a text's size) is in 1/10000 of the width.
// Shared by the live page and the replay.

export const SPAN = 10000;
export const BLANK_SIZE = [1600, 900];

export function paint(canvas, strokes, extra = []) {
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  for (const stroke of strokes) paintStroke(g, canvas.width, canvas.height, stroke);
  for (const stroke of extra) paintStroke(g, canvas.width, canvas.height, stroke);
}

function paintStroke(g, w, h, { ink, points }) {
  if (points.length < 2) return;
  const X = (i) => (points[i] / SPAN) * w;
  const Y = (i) => (points[i + 1] / SPAN) * h;
  g.save();
  g.strokeStyle = g.fillStyle = ink.color;
  g.lineWidth = Math.max(1, (ink.width / SPAN) * w);
  g.lineCap = g.lineJoin = "round";
  if (ink.tool === "highlighter") g.globalAlpha = 0.35;
  if (ink.tool === "text") {
    g.font = `${Math.max(8, (ink.width / SPAN) * w)}px sans-serif`;
    g.textBaseline = "top";
    g.fillText(ink.text ?? "", X(0), Y(0));
  } else if (ink.tool === "rect" && points.length >= 4) {
    g.strokeRect(X(0), Y(0), X(2) - X(0), Y(2) - Y(0));
  } else if (ink.tool === "ellipse" && points.length >= 4) {
    g.beginPath();
    g.ellipse((X(0) + X(2)) / 2, (Y(0) + Y(2)) / 2, Math.abs(X(2) - X(0)) / 2, Math.abs(Y(2) - Y(0)) / 2, 0, 0, 2 * Math.PI);
    g.stroke();
  } else {
    g.beginPath();
    g.moveTo(X(0), Y(0));
    if (points.length === 2) g.lineTo(X(0) + 0.1, Y(0));  // a dot
    for (let i = 2; i < points.length; i += 2) g.lineTo(X(i), Y(i));
    g.stroke();
    if (ink.tool === "arrow" && points.length >= 4) arrowHead(g, X(0), Y(0), X(2), Y(2), g.lineWidth);
  }
  g.restore();
}

function arrowHead(g, x0, y0, x1, y1, width) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const size = Math.max(10, width * 4);
  g.beginPath();
  g.moveTo(x1, y1);
  g.lineTo(x1 - size * Math.cos(angle - 0.4), y1 - size * Math.sin(angle - 0.4));
  g.lineTo(x1 - size * Math.cos(angle + 0.4), y1 - size * Math.sin(angle + 0.4));
  g.closePath();
  g.fill();
}

// Place `sheet` (the page: image and canvas) in its frame so that the view's
// point (x, y) is at the frame's centre, zoomed `zoom` percent.
export function place(sheet, view) {
  const z = (view?.zoom ?? 100) / 100;
  const x = (view?.x ?? SPAN / 2) / SPAN;
  const y = (view?.y ?? SPAN / 2) / SPAN;
  sheet.style.transformOrigin = "0 0";
  sheet.style.transform = z === 1 && x === 0.5 && y === 0.5 ? ""
    : `translate(${(0.5 - z * x) * 100}%, ${(0.5 - z * y) * 100}%) scale(${z})`;
}
