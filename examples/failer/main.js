// Writes a line and fails with exit code 3.
console.log('about to fail');
process.exit(3);
