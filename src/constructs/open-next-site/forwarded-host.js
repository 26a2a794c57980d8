// CloudFront Function (cloudfront-js-2.0), viewer request, on every behaviour that reaches a
// Lambda Function URL. The origin request policy cannot forward the viewer's Host header
// (the Function URL needs its own), so Next.js would see the *.lambda-url host and build
// wrong absolute URLs and redirects. Copy the viewer's host into x-forwarded-host, which
// OpenNext reads instead.
function handler(event) {
  var request = event.request;
  var host = request.headers.host;
  if (host && host.value) {
    request.headers['x-forwarded-host'] = { value: host.value };
  } else {
    // A spoofed x-forwarded-host must never reach the app without a Host to back it.
    delete request.headers['x-forwarded-host'];
  }
  return request;
}
