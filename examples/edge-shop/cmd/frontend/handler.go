package main

import (
	"html/template"
	"net/http"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Edge Shop</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}li{margin:.3em 0}</style></head>
<body>
<h1>Edge Shop</h1>
<p>Served from datacenter <b>{{.}}</b>.</p>
<ul id="menu"><li>loading the menu…</li></ul>
<p><label>Card <input id="card" value="4242424242424242"></label></p>
<p id="result"></p>
<script>
async function order(id) {
  const r = await fetch('/api/orders', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({coffee_id: id, quantity: 1, card: document.getElementById('card').value})});
  const o = await r.json();
  document.getElementById('result').textContent = r.ok ?
    'Order #' + o.id + ' placed, payment ' + o.payment_id : 'Failed: ' + o.error;
}
fetch('/api/coffees').then(r => r.json()).then(cs => {
  const ul = document.getElementById('menu');
  ul.innerHTML = '';
  for (const c of cs) {
    const li = document.createElement('li');
    li.textContent = c.name + ' $' + (c.price / 100).toFixed(2) + ' ';
    const b = document.createElement('button');
    b.textContent = 'Order';
    b.onclick = () => order(c.id);
    li.appendChild(b);
    ul.appendChild(li);
  }
}).catch(e => { document.getElementById('menu').textContent = 'menu unavailable: ' + e; });
</script>
</body></html>
`))

// newHandler serves the page; dc is shown on it.
func newHandler(dc string) http.Handler {
	if dc == "" {
		dc = "unknown"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, dc)
	})
	return mux
}
