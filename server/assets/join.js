// The prospect's side of a browser call link: join the signaling hub with the link
// token, wait for the agent's call, answer it with the microphone. Same wire protocol
// as the agents' app (docs/protocol.md). Each call rings and waits for the prospect to
// press Answer (or Decline): the microphone is never opened to a call silently.
// `?autojoin=1` skips the Join button and `?autoanswer=1` the Answer button (kiosks,
// tests); `?raw=1` turns voice processing off; `?relay=1` uses TURN relays only. Statistics are logged once a second as `SOFTPHONE_STATS {json}`.
'use strict';
(function () {
  const token = location.pathname.split('/').filter(Boolean).pop();
  const statusEl = document.getElementById('status');
  const joinBtn = document.getElementById('join');
  const hangBtn = document.getElementById('hangup');
  const answerBtn = document.getElementById('answer');
  const declineBtn = document.getElementById('decline');
  const params = new URLSearchParams(location.search);
  let pending = null;
  const audio = document.getElementById('remote');
  let ws = null, pc = null, callId = null, mic = null, statsTimer = null, ended = false;

  const setStatus = (t) => { statusEl.textContent = t; };
  const send = (m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

  function end(text, reason) {
    if (reason && callId) send({ type: 'hangup', call_id: callId, reason });
    if (statsTimer) clearInterval(statsTimer);
    if (pc) pc.close();
    pc = null; callId = null;
    hangBtn.hidden = true;
    setStatus(text);
  }

  async function logStats() {
    if (!pc) return;
    const report = await pc.getStats();
    let inb = {}, out = {}, pairId = '';
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') inb = s;
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out = s;
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    // W3C webrtc-stats: the selected candidate pair's local candidate type (host,
    // srflx, prflx or relay).
    const pair = pairId && report.get(pairId);
    const local = pair && report.get(pair.localCandidateId);
    console.log('SOFTPHONE_STATS ' + JSON.stringify({
      packetsReceived: inb.packetsReceived || 0,
      packetsLost: inb.packetsLost || 0,
      jitter: inb.jitter || 0,
      totalAudioEnergy: inb.totalAudioEnergy || 0,
      totalSamplesDuration: inb.totalSamplesDuration || 0,
      packetsSent: out.packetsSent || 0,
      // 'audio/red' when the agent's RFC 2198 redundancy was negotiated.
      receivedCodec: (inb.codecId && report.get(inb.codecId) || {}).mimeType || '',
      localCandidateType: (local && local.candidateType) || '',
    }));
  }

  // Answers the ringing call with the microphone the prospect allowed at Join.
  async function answer() {
    const m = pending;
    pending = null;
    answerBtn.hidden = true; declineBtn.hidden = true;
    if (!m) return;
    callId = m.call_id;
    setStatus('Connecting your call…');
    // STUN/TURN servers (RTCIceServer objects, short-lived TURN credentials included),
    // put in the page by the server.
    let iceServers = [];
    try { iceServers = JSON.parse(document.querySelector('main').dataset.ice || '[]'); } catch (e) { iceServers = []; }
    // `?relay=1`: relay (TURN) candidates only, for support to check a TURN path and
    // for the TURN test (crates/cli/tests/turn_calls.rs).
    const iceTransportPolicy = params.get('relay') === '1' ? 'relay' : 'all';
    pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    mic.getTracks().forEach((t) => pc.addTrack(t, mic));
    pc.ontrack = (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        send({ type: 'ice', call_id: callId, candidate: {
          candidate: e.candidate.candidate, sdp_mid: e.candidate.sdpMid, sdp_mline_index: e.candidate.sdpMLineIndex } });
      }
    };
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      if (pc.connectionState === 'connected') { setStatus('You are talking with your agent.'); hangBtn.hidden = false; }
      if (pc.connectionState === 'failed') end('The connection was lost.', 'network_lost');
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: m.offer });
    const ans = await pc.createAnswer();
    await pc.setLocalDescription(ans);
    send({ type: 'accept', call_id: callId, answer: ans.sdp });
    statsTimer = setInterval(logStats, 1000);
  }

  function decline() {
    if (!pending) return;
    send({ type: 'reject', call_id: pending.call_id, reason: 'declined' });
    pending = null;
    answerBtn.hidden = true; declineBtn.hidden = true;
    setStatus('You declined the call. Waiting for your agent to call…');
  }

  async function onMessage(m) {
    switch (m.type) {
      case 'incoming': {
        if (pc || pending) { send({ type: 'reject', call_id: m.call_id, reason: 'busy' }); return; }
        if (!m.offer) { send({ type: 'reject', call_id: m.call_id, reason: 'no_offer' }); return; }
        pending = m;
        send({ type: 'ringing', call_id: m.call_id });
        if (params.get('autoanswer') === '1') { await answer(); return; }
        setStatus((m.from_name || 'Your agent') + ' is calling.');
        answerBtn.hidden = false; declineBtn.hidden = false;
        answerBtn.focus();
        break;
      }
      case 'ice':
        if (pc && m.candidate && m.candidate.candidate) {
          await pc.addIceCandidate({ candidate: m.candidate.candidate, sdpMid: m.candidate.sdp_mid, sdpMLineIndex: m.candidate.sdp_mline_index });
        }
        break;
      case 'hangup':
        if (pending && m.call_id === pending.call_id) {
          pending = null;
          answerBtn.hidden = true; declineBtn.hidden = true;
          setStatus('Your agent hung up before you answered. Waiting for your agent to call…');
        }
        if (m.call_id === callId) { await logStats(); end('The call has ended. You can close this page.'); }
        break;
      case 'error':
        console.warn('server:', m.code, m.message);
        if (m.code === 'link.in_use') {
          ended = true;
          end('This call link is already open in another browser or tab. Use that one, or close it and reload this page.');
        }
        break;
    }
  }

  async function join() {
    joinBtn.disabled = true;
    try {
      // `?raw=1` turns the browser's voice processing off (measurements and tests).
      const processing = new URLSearchParams(location.search).get('raw') !== '1';
      mic = await navigator.mediaDevices.getUserMedia({ audio: {
        echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing } });
    } catch (e) {
      setStatus('The microphone is blocked. Allow it (the icon in the address bar) and press Join again.');
      joinBtn.disabled = false;
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(proto + '//' + location.host + '/api/v1/join/' + encodeURIComponent(token) + '/signal');
    ws.onopen = () => { joinBtn.hidden = true; setStatus('Waiting for your agent to call…'); };
    ws.onclose = () => { if (!ended) { ended = true; end('This link has expired or the connection dropped. Reload the page to try again.'); } };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(m).catch((e) => { console.error(e); end('The call could not be set up.', 'failed'); });
    };
  }

  joinBtn.addEventListener('click', join);
  hangBtn.addEventListener('click', () => end('You ended the call.', 'normal'));
  answerBtn.addEventListener('click', () => {
    answer().catch((e) => { console.error(e); end('The call could not be set up.', 'failed'); });
  });
  declineBtn.addEventListener('click', decline);
  if (params.get('autojoin') === '1') join();
})();
