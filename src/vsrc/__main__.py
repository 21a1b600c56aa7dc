from vsrc.cli import main

main()
