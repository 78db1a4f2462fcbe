// The Live tab's stream (Gradio runs this once, with `element`: the tab's live view; lbi/views/live_stream.py
// answers). The webcam's frames are posted as JPEGs to the app's live route, two in flight, and each drawn frame
// that comes back replaces the last. The retention slider and "3D pose from" are read at each frame.
const ROUTE = element.querySelector('.lbi-live').dataset.route;  // lbi/app.py's LIVE_ROUTE, relative to the page
const IN_FLIGHT = 2;
const button = element.querySelector('.lbi-live-button');
const shown = element.querySelector('#live-out img');
const status = element.querySelector('.lbi-live-status');
const video = document.createElement('video');
video.muted = true;
video.playsInline = true;
const canvas = document.createElement('canvas');
let camera = null;
let inFlight = 0;
window.lbiLive = {key: ''};  // the stream's key: the pause button asks the app for this stream's last frame

function query() {
  const q = new URLSearchParams({key: window.lbiLive.key});
  const retention = document.querySelector('#live-retention input[type=number]');
  const fusion = document.querySelector('#fusion input:checked');
  if (retention && retention.value) q.set('retention', retention.value);
  if (fusion) q.set('fusion', fusion.value);
  return q;
}

function send() {
  if (!camera || inFlight >= IN_FLIGHT || video.readyState < 2) return;
  if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
  }
  canvas.getContext('2d').drawImage(video, 0, 0);
  inFlight++;
  canvas.toBlob(post, 'image/jpeg', 0.8);
}

async function post(frame) {
  let drawn = null;
  try {
    const answer = await fetch(`${ROUTE}?${query()}`, {method: 'POST', body: frame, headers: {'Content-Type': 'image/jpeg'}});
    if (!answer.ok) {
      stop(`⚠️ ${await answer.text()}`);
      return;
    }
    drawn = await answer.blob();
  } catch (err) {
    stop(`⚠️ the app did not answer (${err.message})`);
    return;
  } finally {
    inFlight--;
  }
  if (!camera) return;
  const old = shown.src;
  shown.src = URL.createObjectURL(drawn);
  if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  status.textContent = '';
  send();
}

async function start() {
  if (!navigator.mediaDevices) {
    status.textContent = '⚠️ the browser offers no webcam here: open the app on localhost or over https';
    return;
  }
  try {
    camera = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 480}, height: {ideal: 360}}, audio: false});
  } catch (err) {
    status.textContent = `⚠️ no webcam (${err.message})`;
    return;
  }
  window.lbiLive.key = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
  video.srcObject = camera;
  await video.play();
  button.textContent = 'Stop webcam';
  status.textContent = 'Starting: the first frame finds the people…';
  for (let k = 0; k < IN_FLIGHT; k++) send();
}

function stop(message) {
  if (camera) camera.getTracks().forEach((track) => track.stop());
  camera = null;
  video.srcObject = null;
  button.textContent = 'Start webcam';
  status.textContent = message || '';  // the app keeps the stream's last frame for the pause button a while
}

button.addEventListener('click', () => (camera ? stop() : start()));
