import Checks from './checks.js';

export default function Page() {
  return (
    <main>
      <h1>keyseal + Next.js</h1>
      <Checks />
    </main>
  );
}
