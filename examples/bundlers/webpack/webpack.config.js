// Nothing keyseal-specific: webpack 5 turns the package's `new URL('./keyseal_wasm_bg.wasm',
// import.meta.url)` into an emitted asset, and `new Worker(new URL('./worker.js', import.meta.url),
// { type: 'module' })` into a worker chunk, by default.
import HtmlWebpackPlugin from 'html-webpack-plugin';

export default {
  entry: './src/main.js',
  output: { clean: true },
  plugins: [new HtmlWebpackPlugin({ template: './src/index.html' })],
};
