// Starts Swagger UI on /api/docs with what the page's data attributes carry
// (flask-smorest's own page does this in an inline script, which the CSP forbids).

// Swagger UI's own dark theme, whenever the system asks for one (as Locker's pages follow it).
const dark = window.matchMedia('(prefers-color-scheme: dark)')
const followScheme = () => document.documentElement.classList.toggle('dark-mode', dark.matches)
followScheme()
dark.addEventListener('change', followScheme)

const container = document.getElementById('swagger-ui-container')
window.ui = SwaggerUIBundle({
  url: container.dataset.specUrl,
  dom_id: '#swagger-ui-container',
  ...JSON.parse(container.dataset.config)
})
