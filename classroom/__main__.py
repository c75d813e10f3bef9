from classroom.cli import main

main()
