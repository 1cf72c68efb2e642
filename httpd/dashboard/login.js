// The login form: posts the key and secret once; the server answers with an HttpOnly session
// cookie. Nothing is stored by the page.
'use strict';
document.getElementById('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const key = document.getElementById('api_key');
  const secret = document.getElementById('api_secret');
  const err = document.getElementById('login_error');
  err.textContent = '';
  const res = await fetch('/dashboard/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ api_key: key.value, api_secret: secret.value }),
    credentials: 'same-origin',
  });
  secret.value = '';
  if (res.status === 204) {
    location.reload();
    return;
  }
  const body = await res.json().catch(() => ({}));
  err.textContent = body.error || `login failed (${res.status})`;
});
