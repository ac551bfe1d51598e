// Passkeys (WebAuthn) on the people's pages: signing in with one (passwordless, or as the
// second step or a step-up) and adding one. The server sends the options as JSON
// (base64url for binary fields) and verifies the answer (apps/accounts/factor_views.py);
// this file only converts between JSON and the browser's ArrayBuffers and posts.
(function () {
  "use strict";

  function toBuffer(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, data: data };
  }

  function nextUrl() {
    const input = document.querySelector("input[name=next]");
    return input ? input.value : "";
  }

  function showError(container, text) {
    const box = container.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
    // Styled as an error only while it says something (an empty one is no page error).
    box.classList.toggle("error", Boolean(text));
  }

  function message(container, name) {
    const box = container.querySelector("[data-passkey-error]");
    return box ? box.dataset[name] : "";
  }

  // A DOMException from the browser: the person cancelled, or it timed out.
  function browserError(container, error) {
    const cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
    showError(container, message(container, cancelled ? "cancelled" : "failed"));
  }

  function creationOptions(json) {
    json.challenge = toBuffer(json.challenge);
    json.user.id = toBuffer(json.user.id);
    (json.excludeCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBuffer(json.challenge);
    (json.allowCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return json;
  }

  // A PublicKeyCredential as JSON (WebAuthn's toJSON shape), with its ceremony's response fields.
  function credentialJson(credential, response) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(credential.response.clientDataJSON), ...response },
    };
  }

  function registrationJson(credential) {
    const response = credential.response;
    return credentialJson(credential, {
      attestationObject: toBase64url(response.attestationObject),
      transports: response.getTransports ? response.getTransports() : [],
    });
  }

  function assertionJson(credential) {
    const response = credential.response;
    return credentialJson(credential, {
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    });
  }

  // The server's answer: where to go now, or why not (and, when the sign-in must start
  // again, where that is).
  function answered(container, result) {
    if (result.ok && result.data.redirect) { window.location.assign(result.data.redirect); return; }
    showError(container, result.data.error || message(container, "failed"));
    if (result.data.redirect) {
      setTimeout(() => window.location.assign(result.data.redirect), 2500);
    }
  }

  async function signIn(button) {
    const container = button.parentElement;
    showError(container, "");
    const ceremony = button.dataset.ceremony;
    const options = await postJson(button.dataset.optionsUrl, { ceremony: ceremony });
    if (!options.ok) { answered(container, options); return; }
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: requestOptions(options.data) });
    } catch (error) { browserError(container, error); return; }
    const remember = document.getElementById("id_remember_me");
    answered(container, await postJson(button.dataset.verifyUrl, {
      ceremony: ceremony,
      credential: assertionJson(credential),
      next: nextUrl(),
      remember_me: Boolean(remember && remember.checked),
    }));
  }

  async function register(form) {
    showError(form, "");
    const name = form.querySelector("input[name=name]").value.trim();
    // The password allows this one registration (checked with the options, not again after).
    const password = form.querySelector("input[name=password]");
    const options = await postJson(form.dataset.optionsUrl, { password: password.value });
    password.value = "";
    if (!options.ok) { answered(form, options); return; }
    let credential;
    try {
      credential = await navigator.credentials.create({ publicKey: creationOptions(options.data) });
    } catch (error) { browserError(form, error); return; }
    answered(form, await postJson(form.dataset.verifyUrl, {
      name: name, credential: registrationJson(credential), next: nextUrl(),
    }));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const supported = Boolean(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("[data-passkey-sign-in]").forEach((button) => {
      button.addEventListener("click", () => {
        if (!supported) { showError(button.parentElement, message(button.parentElement, "unsupported")); return; }
        signIn(button).catch(() => showError(button.parentElement, message(button.parentElement, "failed")));
      });
    });
    document.querySelectorAll("form[data-passkey-register]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!supported) { showError(form, message(form, "unsupported")); return; }
        register(form).catch(() => showError(form, message(form, "failed")));
      });
    });
  });
})();
