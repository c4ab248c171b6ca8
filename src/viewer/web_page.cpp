#include "viewer/web_page.hpp"

namespace emp::telemetry::viewer {
namespace {

constexpr std::string_view kHead = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emp-telemetry viewer</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2230;background:#f6f7f9}
header{background:#1d2230;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header input{margin-left:auto;padding:4px 8px;border-radius:4px;border:0;width:260px}
main{padding:12px 16px}
h1{font-size:18px;margin:4px 0 8px}h2{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e5ea;vertical-align:top}
th{background:#eceef2;font-weight:600}
a{color:#2457c5}
.mono{font-family:ui-monospace,monospace;font-size:12px}
.st{padding:1px 6px;border-radius:8px;font-size:11px;color:#fff}
.st.completed{background:#2e8540}.st.failed{background:#c62828}.st.running{background:#1e6bd6}
.meta span{margin-right:14px}
.wf{background:#fff;border:1px solid #e3e5ea}
.wf .row{display:flex;align-items:center;height:22px;border-bottom:1px solid #f0f1f4;cursor:pointer}
.wf .row:hover{background:#f3f6fd}
.wf .name{width:34%;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;padding-left:6px}
.wf .lane{position:relative;flex:1;height:14px;margin-right:8px}
.wf .bar{position:absolute;height:14px;min-width:2px;border-radius:2px;background:#4a7fe0}
.wf .bar.ok{background:#2e8540}.wf .bar.error{background:#c62828}
.wf .dur{width:90px;text-align:right;padding-right:6px;color:#5a6072}
.detail{background:#fff;border:1px solid #e3e5ea;padding:8px;margin-top:6px;white-space:pre-wrap}
.lv-ERROR,.lv-FATAL,.k-error{color:#c62828;font-weight:600}.lv-WARN{color:#b26a00}
.k-event{color:#6a3fc1}.k-span{color:#5a6072}
.frames td{font-family:ui-monospace,monospace;font-size:12px}
.empty{color:#5a6072;padding:12px}
</style></head><body>
<header><a href="/">emp-telemetry viewer</a><span id="live"></span>
<input id="q" placeholder="search log messages" aria-label="search log messages"></header>
<main id="app"><div class="empty">loading…</div></main>
<script>window.INITIAL=)html";

constexpr std::string_view kTail = R"html(;</script>
<script>
"use strict";
const $=(t,a={},...kids)=>{const e=document.createElement(t);
  for(const[k,v]of Object.entries(a)){if(k==="class")e.className=v;else if(k==="onclick")e.onclick=v;else e.setAttribute(k,v);}
  for(const c of kids){if(c==null)continue;e.append(c instanceof Node?c:String(c));}return e;};
const app=document.getElementById("app");
const show=(...kids)=>app.replaceChildren(...kids.filter(k=>k!=null));
const ms=v=>v>=1000?(v/1000).toFixed(2)+" s":v.toFixed(1)+" ms";
const when=ns=>ns?new Date(ns/1e6).toISOString().replace("T"," ").replace("Z",""):"-";
const link=(href,text)=>$("a",{href},text);
const get=async p=>{const r=await fetch(p);if(!r.ok)throw new Error(p+": "+r.status);return r.json();};
const path=location.pathname;
function table(head,rows){return $("table",{},$("thead",{},$("tr",{},...head.map(h=>$("th",{},h)))),$("tbody",{},...rows));}

function renderJobs(jobs){
  show($("h1",{},"Jobs"),jobs.length?table(
    ["job","status","service","machine","worker","started","duration","spans","logs","events","errors"],
    jobs.map(j=>$("tr",{},$("td",{class:"mono"},link("/jobs/"+encodeURIComponent(j.job_id),j.job_id)),
      $("td",{},$("span",{class:"st "+j.status},j.status)),$("td",{},j.service||"-"),
      $("td",{},j.machine||"-"),$("td",{},j.worker||"-"),$("td",{},when(j.first_ns)),
      $("td",{},ms(j.duration_ms||0)),$("td",{},j.spans),$("td",{},j.logs),$("td",{},j.events),
      $("td",{class:j.error_count?"k-error":""},j.error_count))))
    :$("div",{class:"empty"},"No jobs yet. Point OTEL_EXPORTER_OTLP_ENDPOINT at this server."));
}

function waterfall(spans){
  if(!spans.length)return $("div",{class:"empty"},"no spans");
  const byId=new Map(spans.map(s=>[s.span_id,s]));const kids=new Map();const roots=[];
  for(const s of spans){if(s.parent_span_id&&byId.has(s.parent_span_id)){
    if(!kids.has(s.parent_span_id))kids.set(s.parent_span_id,[]);kids.get(s.parent_span_id).push(s);}else roots.push(s);}
  const t0=Math.min(...spans.map(s=>s.start_ns));const t1=Math.max(...spans.map(s=>Math.max(s.end_ns,s.start_ns)));
  const total=Math.max(t1-t0,1);const box=$("div",{class:"wf"});const detail=$("div",{class:"detail",hidden:""});
  const add=(s,depth)=>{
    const left=(s.start_ns-t0)/total*100,width=Math.max((s.end_ns-s.start_ns)/total*100,0.2);
    const cls=s.status_code===2?"error":s.status_code===1?"ok":"";
    const row=$("div",{class:"row",title:s.name},
      $("div",{class:"name",style:"padding-left:"+(6+depth*14)+"px"},s.name,s.service?$("span",{class:"k-span"}," · "+s.service):null),
      $("div",{class:"lane"},$("div",{class:"bar "+cls,style:"left:"+left+"%;width:"+width+"%"})),
      $("div",{class:"dur"},ms(s.duration_ms)));
    row.onclick=()=>{detail.hidden=false;detail.replaceChildren($("b",{},s.name),
      " ",link("/traces/"+s.trace_id,"trace "+s.trace_id),"  span "+s.span_id+"\n",
      s.status_message?"status: "+s.status_message+"\n":"",
      "attributes: "+JSON.stringify(s.attributes,null,2)+"\n",
      s.events.length?"events: "+JSON.stringify(s.events,null,2)+"\n":"",
      "resource: "+JSON.stringify(s.resource,null,2));};
    box.append(row);for(const c of kids.get(s.span_id)||[])add(c,depth+1);};
  for(const r of roots)add(r,0);
  return $("div",{},box,detail);
}

function timeline(items){
  if(!items.length)return $("div",{class:"empty"},"nothing recorded");
  const t0=items[0].time_ns;
  return table(["+time","kind","level","what","trace"],items.map(e=>$("tr",{},
    $("td",{class:"mono"},"+"+ms((e.time_ns-t0)/1e6)),$("td",{class:"k-"+e.kind},e.kind),
    $("td",{class:"lv-"+(e.level||"")},e.level||""),
    $("td",{class:e.kind==="error"?"k-error":""},e.kind==="error"&&e.event_id?link("/errors/"+e.event_id,e.text):e.text),
    $("td",{class:"mono"},e.trace_id?link("/traces/"+e.trace_id,e.trace_id.slice(0,8)+"…"):""))));
}

function renderJob(d){
  const j=d.job;
  show($("h1",{class:"mono"},"Job "+j.job_id),
    $("div",{class:"meta"},$("span",{class:"st "+j.status},j.status),
      $("span",{},"service: "+(j.service||"-")),$("span",{},"machine: "+(j.machine||"-")),
      $("span",{},"worker: "+(j.worker||"-")),$("span",{},"duration: "+ms(j.duration_ms||0)),
      j.trace_id?$("span",{},link("/traces/"+j.trace_id,"trace "+j.trace_id)):null),
    $("h2",{},"Trace waterfall"),waterfall(d.spans),
    d.errors.length?$("h2",{},"Errors"):null,
    d.errors.length?table(["time","error","message"],d.errors.map(x=>$("tr",{},$("td",{},when(x.time_ns)),
      $("td",{class:"k-error"},link("/errors/"+x.event_id,(x.exception_type||"error")+": "+(x.exception_value||""))),
      $("td",{},x.message||"")))):null,
    $("h2",{},"Timeline (logs, events, errors, spans)"),timeline(d.timeline),
    d.metrics.length?$("h2",{},"Metric points"):null,
    d.metrics.length?table(["time","metric","value","attributes"],d.metrics.map(m=>$("tr",{},
      $("td",{},when(m.time_ns)),$("td",{},m.name),$("td",{},m.kind.includes("histogram")?m.count+" obs, sum "+m.value:m.value),
      $("td",{class:"mono"},JSON.stringify(m.attributes))))):null);
}

function renderTrace(d){
  show($("h1",{class:"mono"},"Trace "+d.trace_id),
    $("div",{class:"meta"},...d.job_ids.map(id=>$("span",{},link("/jobs/"+encodeURIComponent(id),"job "+id)))),
    $("h2",{},"Waterfall"),waterfall(d.spans),$("h2",{},"Timeline"),timeline(d.timeline));
}

function renderError(e){
  const frames=(e.stacktrace||[]).slice().reverse();
  show($("h1",{class:"k-error"},(e.exception_type||"error")+": "+(e.exception_value||e.message||"")),
    $("div",{class:"meta"},$("span",{},when(e.time_ns)),$("span",{},"level: "+(e.level||"-")),
      $("span",{},"service: "+(e.service||"-")),e.job_id?$("span",{},link("/jobs/"+encodeURIComponent(e.job_id),"job "+e.job_id)):null,
      e.trace_id?$("span",{},link("/traces/"+e.trace_id,"trace "+e.trace_id)):null),
    e.message?$("p",{},e.message):null,
    $("h2",{},"Stack trace (most recent call first)"),
    frames.length?$("table",{class:"frames"},$("tbody",{},...frames.map(f=>$("tr",{},
      $("td",{},f.function||f.instruction_addr||"?"),$("td",{},(f.filename||f.package||"")+(f.lineno?":"+f.lineno:"")),
      $("td",{},f.in_app?"in app":""))))):$("div",{class:"empty"},"no stack trace"),
    $("h2",{},"Tags"),table(["tag","value"],Object.entries(e.tags||{}).map(([k,v])=>$("tr",{},$("td",{},k),$("td",{},v)))),
    $("h2",{},"Event"),$("div",{class:"detail mono"},JSON.stringify(e.event,null,2)));
}

function renderSearch(q,logs){
  show($("h1",{},"Logs matching “"+q+"”"),logs.length?table(["time","level","service","message","job"],
    logs.map(l=>$("tr",{},$("td",{},when(l.time_ns)),$("td",{class:"lv-"+(l.severity_text||"")},l.severity_text||""),
      $("td",{},l.service||"-"),$("td",{},l.body),$("td",{class:"mono"},l.job_id?link("/jobs/"+encodeURIComponent(l.job_id),l.job_id):"")))):
    $("div",{class:"empty"},"no log message contains it"));
}

const routes=[
  [/^\/$/,()=>"/api/jobs?limit=200",renderJobs,3000],
  [/^\/jobs\/(.+)$/,m=>"/api/jobs/"+m[1],renderJob,5000],
  [/^\/traces\/(.+)$/,m=>"/api/traces/"+m[1],renderTrace,0],
  [/^\/errors\/(.+)$/,m=>"/api/errors/"+m[1],renderError,0],
  [/^\/search$/,()=>"/api/search"+location.search,d=>renderSearch(new URLSearchParams(location.search).get("q")||"",d),0],
];
const q=document.getElementById("q");
q.onkeydown=e=>{if(e.key==="Enter"&&q.value)location.href="/search?q="+encodeURIComponent(q.value);};
(async()=>{
  for(const[re,api,render,every]of routes){const m=path.match(re);if(!m)continue;
    const draw=d=>{try{render(d);}catch(err){show($("div",{class:"empty"},"cannot render: "+err));}};
    if(window.INITIAL!==null)draw(window.INITIAL);else{try{draw(await get(api(m)));}catch(err){show($("div",{class:"empty"},String(err)));}}
    // A finished job does not change: refresh only lists and running jobs.
    const done=window.INITIAL&&window.INITIAL.job&&window.INITIAL.job.status!=="running";
    if(every&&!done){document.getElementById("live").textContent="live";
      setInterval(async()=>{try{draw(await get(api(m)));}catch(_){}},every);}
    return;}
  show($("div",{class:"empty"},"not found"));
})();
</script></body></html>
)html";

}  // namespace

std::string render_page(std::string_view initial_json) {
  std::string out;
  out.reserve(kHead.size() + initial_json.size() + kTail.size() + 16);
  out += kHead;
  // "</" could close the script element early; JSON allows "<\/" for it.
  for (std::size_t i = 0; i < initial_json.size(); ++i) {
    out += initial_json[i];
    if (initial_json[i] == '<' && i + 1 < initial_json.size() && initial_json[i + 1] == '/') {
      out += '\\';
    }
  }
  if (initial_json.empty()) out += "null";
  out += kTail;
  return out;
}

}  // namespace emp::telemetry::viewer
