// Renders /api/openapi.json with the vendored Swagger UI (scripts/vendor-apidocs.sh).
// No validator badge: it would send the description to a third party.
/* global SwaggerUIBundle */
SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#api",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
});
