// Preloaded (--import) by the client package tests before a product-document snippet
// that logs objects: console.log prints each as one JSON line, so the test can read them.
console.log = (value) => process.stdout.write(JSON.stringify(value) + "\n");
