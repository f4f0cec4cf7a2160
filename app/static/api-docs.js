// Starts Swagger UI on /api/docs with what the page's data attributes carry
// (flask-smorest's own page does this in an inline script, which the CSP forbids).
const container = document.getElementById('swagger-ui-container')
window.ui = SwaggerUIBundle({
  url: container.dataset.specUrl,
  dom_id: '#swagger-ui-container',
  ...JSON.parse(container.dataset.config)
})
