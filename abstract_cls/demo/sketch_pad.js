// The sketch pad's behaviour (gr.HTML js_on_load: `element`, `props` are Gradio's).
// Black ink on a white 2D canvas, drawn with pointer events. Each finished stroke, undo
// or clear sets props.value once, which makes Gradio send one `change` with that value:
// '' for a blank sheet, else a PNG data URL of the drawing downscaled to props.sent_size.
const canvas = element.querySelector("canvas.sheet");
const ink = canvas.getContext("2d", { willReadFrequently: true });
const brushSize = element.querySelector("input.brush-size");
const undoButton = element.querySelector("button[data-action=undo]");
const clearButton = element.querySelector("button[data-action=clear]");
const sent = document.createElement("canvas");
sent.width = sent.height = Number(props.sent_size);
const sentPen = sent.getContext("2d");
const MAX_UNDO = 64;
const undoStack = []; // {pixels: ImageData, blank} before each stroke or clear, newest last
let blank = true;
let stroke = null; // {pointerId, x, y} while the pointer is down

function whitePaper() {
  ink.fillStyle = "#ffffff";
  ink.fillRect(0, 0, canvas.width, canvas.height);
}

function send() {
  if (blank) {
    props.value = "";
    return;
  }
  sentPen.imageSmoothingEnabled = true;
  sentPen.imageSmoothingQuality = "high";
  sentPen.drawImage(canvas, 0, 0, sent.width, sent.height);
  props.value = sent.toDataURL("image/png");
}

function remember() {
  undoStack.push({ pixels: ink.getImageData(0, 0, canvas.width, canvas.height), blank });
  if (undoStack.length > MAX_UNDO) undoStack.shift();
  undoButton.disabled = false;
}

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * canvas.width) / box.width,
    ((event.clientY - box.top) * canvas.height) / box.height,
  ];
}

function inkTo(x, y) {
  ink.beginPath();
  ink.moveTo(stroke.x, stroke.y);
  ink.lineTo(x, y);
  ink.stroke();
  stroke.x = x;
  stroke.y = y;
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || stroke !== null) return;
  event.preventDefault();
  remember();
  canvas.setPointerCapture(event.pointerId);
  ink.strokeStyle = "#000000";
  ink.lineWidth = Number(brushSize.value);
  ink.lineCap = "round";
  ink.lineJoin = "round";
  const [x, y] = canvasPoint(event);
  stroke = { pointerId: event.pointerId, x, y };
  inkTo(x, y); // a tap leaves a dot
  blank = false;
});

canvas.addEventListener("pointermove", (event) => {
  if (stroke === null || event.pointerId !== stroke.pointerId) return;
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) inkTo(...canvasPoint(move));
});

function endStroke(event) {
  if (stroke === null || event.pointerId !== stroke.pointerId) return;
  stroke = null;
  send();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

undoButton.addEventListener("click", () => {
  const before = undoStack.pop();
  if (!before) return;
  ink.putImageData(before.pixels, 0, 0);
  blank = before.blank;
  undoButton.disabled = undoStack.length === 0;
  send();
});

clearButton.addEventListener("click", () => {
  if (blank) return;
  remember();
  whitePaper();
  blank = true;
  send();
});

whitePaper();
undoButton.disabled = true;
canvas.dataset.ready = "true"; // for scripts that drive the page: listeners are attached
